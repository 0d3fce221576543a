"""Machine-readable summaries: `cnndsl summary --format json` and `--format csv`.

docs/analysis.md lists the JSON keys. Within one "version" a key may be
added but is never renamed or removed. CSV has one row per node (inputs
included) with the same numbers, flattened.
"""

from __future__ import annotations

import csv
import io
import json
from fractions import Fraction
from typing import Any

from cnndsl.analysis import Analysis, NodeAnalysis
from cnndsl.analysis.costs import FLOPS_PER_MAC, BlockTotals
from cnndsl.analysis.explain import explain_params, explain_shape
from cnndsl.analysis.receptive_field import FieldSummary
from cnndsl.graph import InputNode, LayerNode

JSON_FORMAT = "cnndsl-summary"
JSON_VERSION = 1

CSV_COLUMNS = (
    "name", "class", "kind", "inputs", "output_shape", "trainable_params", "non_trainable_params", "params",
    "macs", "flops", "activation_bytes_per_sample", "activation_bytes_per_batch", "rf_input", "rf_kind",
    "rf_size_height", "rf_size_width", "rf_jump_height", "rf_jump_width", "rf_start_height", "rf_start_width",
    "scope", "line",
)


def _number(value: Fraction) -> int | float:
    return value.numerator if value.denominator == 1 else float(value)


def _pair(pair) -> list[int | float] | None:
    return None if pair is None else [_number(Fraction(value)) for value in pair]


def _field(summary: FieldSummary) -> dict[str, Any]:
    return {
        "input": summary.input, "kind": summary.kind, "size": _pair(summary.size), "jump": _pair(summary.jump),
        "start": _pair(summary.start), "reason": summary.reason,
    }


def _identity(node: NodeAnalysis) -> tuple[str, str]:
    """Return (Keras class, cnndsl kind) of a node; inputs are keras.layers.InputLayer."""
    if isinstance(node.node, InputNode):
        return "InputLayer", "input"
    return node.node.kind.keras_class, node.node.kind.keyword


def _formulas(analysis: Analysis, node: NodeAnalysis) -> dict[str, Any] | None:
    layer = node.node
    if not isinstance(layer, LayerNode):
        return None
    network = analysis.network
    shape = network.output_shape(layer.inputs[0])
    return {
        "params": None if layer.kind.merge else explain_params(layer, shape),
        "shape": [{"axis": axis, "formula": text} for axis, text in explain_shape(network, layer)],
        "macs": str(node.macs),
    }


def _layer_record(analysis: Analysis, node: NodeAnalysis) -> dict[str, Any]:
    batch = analysis.batch_size
    keras_class, kind = _identity(node)
    layer = node.node if isinstance(node.node, LayerNode) else None
    trainable = (layer.trainable_params or 0) if layer else 0
    non_trainable = (layer.non_trainable_params or 0) if layer else 0
    shape = analysis.network.output_shape(node.node.name)
    return {
        "name": node.node.name,
        "class": keras_class,
        "kind": kind,
        "inputs": list(node.node.inputs),
        "output_shape": list(shape) if shape is not None else None,
        "params": {"trainable": trainable, "non_trainable": non_trainable, "total": trainable + non_trainable},
        "macs": node.macs.value,
        "flops": node.flops,
        "activation_bytes": {"per_sample": node.activation_bytes, "per_batch": node.activation_bytes * batch},
        "live_bytes": {"per_sample": node.live_bytes, "per_batch": node.live_bytes * batch},
        "receptive_field": [_field(summary) for summary in node.fields],
        "scope": list(layer.scope) if layer else [],
        "line": node.node.span.line if node.node.span else None,
        "formulas": _formulas(analysis, node),
    }


def _block_record(block: BlockTotals) -> dict[str, Any]:
    return {
        "name": block.instance.name,
        "block": block.instance.block,
        "scope": list(block.instance.scope),
        "layers": block.layers,
        "params": {"trainable": block.trainable_params, "non_trainable": block.non_trainable_params,
                   "total": block.params},
        "macs": block.macs,
        "flops": FLOPS_PER_MAC * block.macs,
    }


def _totals(analysis: Analysis) -> dict[str, Any]:
    network, memory, batch = analysis.network, analysis.memory, analysis.batch_size
    return {
        "params": {"trainable": network.trainable_params, "non_trainable": network.non_trainable_params,
                   "total": network.total_params},
        "macs": analysis.total_macs,
        "flops": analysis.total_flops,
        "parameter_bytes": memory.parameter_bytes,
        "activation_bytes": {
            "peak_per_sample": memory.peak_bytes, "peak_per_batch": memory.peak_bytes * batch,
            "sum_per_sample": memory.total_activation_bytes,
            "sum_per_batch": memory.total_activation_bytes * batch, "peak_layer": memory.peak_node,
        },
    }


def summary_record(analysis: Analysis) -> dict[str, Any]:
    """Return the whole summary as plain JSON-ready data."""
    network = analysis.network
    return {
        "format": JSON_FORMAT,
        "version": JSON_VERSION,
        "network": network.name,
        "source": network.source.name,
        "dtype": analysis.dtype,
        "bytes_per_value": analysis.memory.bytes_per_value,
        "batch_size": analysis.batch_size,
        "layers": [_layer_record(analysis, node) for node in analysis.nodes],
        "blocks": [_block_record(block) for block in analysis.blocks],
        "totals": _totals(analysis),
        "outputs": [{"name": name, "shape": list(network.output_shape(name))} for name in network.outputs],
    }


def summary_json(analysis: Analysis) -> str:
    """Return the summary as indented JSON."""
    return json.dumps(summary_record(analysis), indent=2)


def _csv_field_cells(fields: list[dict[str, Any]]) -> dict[str, Any]:
    # A row has room for one field: the first image input's.
    if not fields:
        return {}
    field = fields[0]
    cells = {"rf_input": field["input"], "rf_kind": field["kind"]}
    for key in ("size", "jump", "start"):
        if field[key] is not None:
            cells[f"rf_{key}_height"], cells[f"rf_{key}_width"] = field[key]
    return cells


def summary_csv(analysis: Analysis) -> str:
    """Return the summary as CSV: a header, then one row per node in topological order."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for record in summary_record(analysis)["layers"]:
        shape = record["output_shape"]
        writer.writerow({
            "name": record["name"], "class": record["class"], "kind": record["kind"],
            "inputs": " ".join(record["inputs"]),
            "output_shape": "x".join(str(size) for size in shape) if shape else "",
            "trainable_params": record["params"]["trainable"],
            "non_trainable_params": record["params"]["non_trainable"],
            "params": record["params"]["total"], "macs": record["macs"], "flops": record["flops"],
            "activation_bytes_per_sample": record["activation_bytes"]["per_sample"],
            "activation_bytes_per_batch": record["activation_bytes"]["per_batch"],
            **_csv_field_cells(record["receptive_field"]),
            "scope": "/".join(record["scope"]), "line": record["line"],
        })
    return buffer.getvalue()

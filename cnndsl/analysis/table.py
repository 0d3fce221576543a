"""The text summary of `cnndsl summary`: a layer table with chosen columns, totals and block totals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from cnndsl.analysis import Analysis, NodeAnalysis
from cnndsl.analysis.costs import BlockTotals
from cnndsl.analysis.receptive_field import FieldSummary, format_pair
from cnndsl.graph import InputNode
from cnndsl.summary import format_bytes, format_shape


@dataclass(frozen=True)
class Column:
    """One optional column of the layer table."""

    header: str
    cell: Callable[[Analysis, NodeAnalysis], str]
    right_aligned: bool = False


def _params(analysis: Analysis, node: NodeAnalysis) -> str:
    return "0" if isinstance(node.node, InputNode) else f"{node.node.params:,}"


def _details(analysis: Analysis, node: NodeAnalysis) -> str:
    layer = node.node
    if isinstance(layer, InputNode) or layer.kind is None:
        return ""
    return layer.kind.label(layer.config)


def describe_field(summary: FieldSummary) -> str:
    """Write one receptive field as `size / jump`: `196 / 16`, `whole input` or `unknown`."""
    if summary.kind == "whole_input":
        return "whole input"
    if summary.kind == "unknown":
        return "unknown"
    return f"{format_pair(summary.size)} / {format_pair(summary.jump)}"


def _field(analysis: Analysis, node: NodeAnalysis) -> str:
    if not node.fields:
        return "-"
    if len(node.fields) == 1:
        return describe_field(node.fields[0])
    return "; ".join(f"{summary.input}: {describe_field(summary)}" for summary in node.fields)


def _line(analysis: Analysis, node: NodeAnalysis) -> str:
    return str(node.node.span.line) if node.node.span else ""


COLUMNS: dict[str, Column] = {
    "shape": Column("Output shape", lambda analysis, node: format_shape(analysis.network.output_shape(node.node.name))),
    "params": Column("Param #", _params, right_aligned=True),
    "macs": Column("MACs", lambda analysis, node: f"{node.macs.value:,}", right_aligned=True),
    "flops": Column("FLOPs", lambda analysis, node: f"{node.flops:,}", right_aligned=True),
    "memory": Column("Activations", lambda analysis, node: format_bytes(node.activation_bytes * analysis.batch_size),
                     right_aligned=True),
    "live": Column("Live memory", lambda analysis, node: format_bytes(node.live_bytes * analysis.batch_size),
                   right_aligned=True),
    "rf": Column("RF / jump", _field),
    "details": Column("Details", _details),
    "line": Column("Line", _line, right_aligned=True),
}
"""Every column by the name that `--columns` takes, in the order `--all` shows them."""

DEFAULT_COLUMNS = ("shape", "params", "macs", "rf", "line")


def _name(node: NodeAnalysis) -> str:
    if isinstance(node.node, InputNode):
        return f"{node.node.name} (Input)"
    keras_class = node.node.kind.keras_class if node.node.kind else "?"
    return f"{node.node.name} ({keras_class})"


def _render(rows: list[list[str]], right_aligned: list[bool]) -> list[str]:
    """Pad every cell to its column's width, two spaces apart."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [cell.rjust(width) if right else cell.ljust(width)
                 for cell, width, right in zip(row, widths, right_aligned)]
        lines.append("  ".join(cells).rstrip())
    return lines


def layer_table(analysis: Analysis, columns: tuple[str, ...] = DEFAULT_COLUMNS) -> list[str]:
    """Return the table lines: title, rules, header and one row per node."""
    chosen = [COLUMNS[name] for name in columns]
    header = ["Layer (type)", *(column.header for column in chosen)]
    if "memory" in columns and analysis.batch_size > 1:
        header[1 + columns.index("memory")] += f" (batch {analysis.batch_size})"
    rows = [[_name(node), *(column.cell(analysis, node) for column in chosen)] for node in analysis.nodes]

    lines = _render([header, *rows], [False, *(column.right_aligned for column in chosen)])
    rule = "=" * len(max(lines, key=len))
    network = analysis.network
    return [f'Model: "{network.name}" ({network.source.name})', rule, lines[0], rule, *lines[1:], rule]


def _count(count: int) -> str:
    """Write a count with separators and, from 1,000 on, with a decimal prefix: `3,857,973,248 (3.86G)`."""
    for factor, prefix in ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K")):
        if count >= factor:
            return f"{count:,} ({count / factor:.2f}{prefix})"
    return f"{count:,}"


def totals_lines(analysis: Analysis) -> list[str]:
    """Return the totals: parameters, MACs and FLOPs, parameter memory and activation memory."""
    network, memory, batch = analysis.network, analysis.memory, analysis.batch_size
    size = memory.bytes_per_value

    def params(count: int) -> str:
        return f"{count:,} ({format_bytes(count * size)})"

    lines = [
        f"Total params: {params(network.total_params)}",
        f"Trainable params: {params(network.trainable_params)}",
        f"Non-trainable params: {params(network.non_trainable_params)}",
        f"MACs per sample: {_count(analysis.total_macs)}; "
        f"FLOPs per sample: {_count(analysis.total_flops)}, 2 FLOPs per MAC",
        f"Parameter memory: {format_bytes(memory.parameter_bytes)} ({analysis.dtype}, {size} bytes per value)",
        _activation_line("per sample", memory.peak_bytes, memory.total_activation_bytes, memory.peak_node),
    ]
    if batch > 1:
        lines.append(_activation_line(f"per batch of {batch}", memory.peak_bytes * batch,
                                      memory.total_activation_bytes * batch, memory.peak_node))
    lines.append(f"Output: {', '.join(format_shape(network.output_shape(name)) for name in network.outputs)}")
    return lines


def _activation_line(unit: str, peak: int, total: int, peak_node: str | None) -> str:
    where = f" while `{peak_node}` runs" if peak_node else ""
    return f"Activation memory {unit}: peak {format_bytes(peak)}{where}, sum of all outputs {format_bytes(total)}"


def block_lines(blocks: list[BlockTotals]) -> list[str]:
    """Return the per-block-instance table, nested instances indented under their parents."""
    if not blocks:
        return []
    header = ["Block instance", "Block", "Layers", "Param #", "MACs"]
    rows = [
        ["  " * (len(block.instance.scope) - 1) + block.instance.name, block.instance.block, str(block.layers),
         f"{block.params:,}", f"{block.macs:,}"]
        for block in blocks
    ]
    lines = _render([header, *rows], [False, False, True, True, True])
    return ["", f"Block instances ({len(blocks)}): parameters and MACs per sample, nested instances included",
            *lines]


def summary_text(analysis: Analysis, columns: tuple[str, ...] = DEFAULT_COLUMNS) -> str:
    """Return the whole text summary: layer table, totals, then block totals."""
    return "\n".join([*layer_table(analysis, columns), *totals_lines(analysis), *block_lines(analysis.blocks)])

"""The text output of `cnndsl rf`: theoretical fields per layer, or one measured effective field."""

from __future__ import annotations

from cnndsl.analysis.effective_rf import MASS, EffectiveField
from cnndsl.analysis.receptive_field import (
    FieldSummary,
    SpatialField,
    format_pair,
    receptive_fields,
    summarize,
)
from cnndsl.graph import InputNode, Network, Node
from cnndsl.summary import format_shape

LEGEND = ("In input pixels. Size: the widest field of any position. Jump: input pixels between neighbouring "
          "positions.\nStart: the centre of the field of position 0; negative values lie in the padding.")


def _cells(summary: FieldSummary) -> list[str]:
    if summary.kind == "whole_input":
        return ["whole input", "", ""]
    if summary.kind == "unknown":
        return [f"unknown: {summary.reason}", "", ""]
    return [format_pair(summary.size), format_pair(summary.jump), format_pair(summary.start)]


def _name(node: Node) -> str:
    keras_class = "Input" if isinstance(node, InputNode) else node.kind.keras_class
    return f"{node.name} ({keras_class})"


def _rows(network: Network, node: Node, summaries: list[FieldSummary]) -> list[list[str]]:
    shape = format_shape(network.output_shape(node.name))
    if not summaries:
        return [[_name(node), shape, "-", "", "", ""]]
    several = len(summaries) > 1
    return [[_name(node), shape, summary.input if several else "", *_cells(summary)] for summary in summaries]


def _render(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]


def field_table(network: Network, layer: str | None = None) -> str:
    """Return the theoretical field of every node, or of the layer called `layer` in detail."""
    fields = receptive_fields(network)
    nodes = [network.node(layer)] if layer else network.nodes
    rows = [["Layer (type)", "Output shape", "Input", "Size", "Jump", "Start"]]
    for node in nodes:
        rows.extend(_rows(network, node, summarize(fields[node.name])))
    if all(not row[2] for row in rows[1:]):
        rows = [row[:2] + row[3:] for row in rows]

    lines = _render([row + [""] * (6 - len(row)) for row in rows])
    rule = "=" * len(max(lines, key=len))
    text = [f'Receptive fields of "{network.name}" ({network.source.name})', LEGEND, rule, lines[0], rule,
            *lines[1:], rule]
    if layer:
        text += _centre_lines(network, layer, fields[layer])
    return "\n".join(text)


def _centre_lines(network: Network, layer: str, fields) -> list[str]:
    shape = network.output_shape(layer)
    if len(shape) != 3:
        return []
    row, column = shape[0] // 2, shape[1] // 2
    lines = []
    for source, state in fields.items():
        if isinstance(state, SpatialField):
            lines.append(f"Position (row {row}, column {column}) of `{layer}` sees rows "
                         f"{state.height.first(row)}..{state.height.last(row)} and columns "
                         f"{state.width.first(column)}..{state.width.last(column)} of `{source}`.")
    return lines


def describe_effective(network: Network, field: EffectiveField) -> str:
    """Return the measured effective field next to the theoretical one."""
    height, width = field.theoretical_size
    row, column = field.position
    return "\n".join([
        f"{network.name}: layer `{field.layer}`, output position row {row}, column {column}",
        f"  theoretical receptive field: {format_pair((height, width))} pixels "
        f"(rows {field.rows[0]}..{field.rows[1]}, columns {field.columns[0]}..{field.columns[1]})",
        f"  effective receptive field: {field.effective_size} pixels (the smallest centred square holding "
        f"{MASS:.0%} of the mean |gradient|)",
        f"  gradient spread (standard deviation): {field.spread[0]:.2f} rows, {field.spread[1]:.2f} columns",
        f"  averaged over {field.averaged_over}",
    ])

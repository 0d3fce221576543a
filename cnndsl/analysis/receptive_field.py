"""Theoretical receptive fields: which input pixels each output position can see.

The field of a tensor is kept per image input of the network, as one AxisMap
per spatial axis from tensor positions to input pixels. A layer's field is its
input's field composed with the layer's window (LayerKind.receptive_field), and
a merge takes the union over its inputs, so every path through the graph
counts. The reported size, jump and start follow docs/analysis.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Union

from cnndsl.graph import InputNode, LayerNode, Network
from cnndsl.layers.windows import (
    IDENTITY_AXIS,
    WHOLE_INPUT,
    AxisMap,
    PassThrough,
    Unsupported,
    WholeInput,
    Window,
)


@dataclass(frozen=True)
class SpatialField:
    """The input pixels seen by each position of an image tensor, by axis."""

    height: AxisMap
    width: AxisMap


FieldState = Union[SpatialField, WholeInput, Unsupported]
"""What one tensor sees of one image input."""

Fields = dict[str, FieldState]
"""A tensor's field for every image input that reaches it, by input name."""

MIXED_JUMPS = Unsupported("paths with different jumps meet here")


def compose(field: AxisMap, window: AxisMap) -> AxisMap:
    """Return the pixels seen by each output of `window`, given the pixels each input sees.

    Both maps are non-decreasing, so output o sees field.first(window.first(o))
    to field.last(window.last(o)). The result repeats once the window has moved
    a whole number of the field's periods.
    NOTE: a position that reads nothing (a transposed convolution with a kernel
    smaller than its stride) still lends its bounds here, so a later field may
    be wider than the true one.
    """
    cycles = 1 if window.step == 0 else field.period // math.gcd(window.step, field.period)
    period = window.period * cycles
    step = cycles * window.step // field.period * field.step

    first = tuple(field.first(window.first(o)) for o in range(period))
    last = tuple(field.last(window.last(o)) for o in range(period))
    return _reduced(AxisMap(period, step, first, last))


def union(a: AxisMap, b: AxisMap) -> AxisMap | None:
    """Return the pixels seen through either map, or None when their jumps differ.

    With different jumps the union grows with the position, which no
    periodic-linear map can describe.
    """
    if a.step * b.period != b.step * a.period:
        return None
    period = math.lcm(a.period, b.period)
    step = a.step * period // a.period

    first = tuple(min(a.first(o), b.first(o)) for o in range(period))
    last = tuple(max(a.last(o), b.last(o)) for o in range(period))
    return _reduced(AxisMap(period, step, first, last))


def _reduced(axis: AxisMap) -> AxisMap:
    """Return the same map with its shortest period, so periods do not grow along a network."""
    for period in range(1, axis.period):
        if axis.period % period or (axis.step * period) % axis.period:
            continue
        step = axis.step * period // axis.period
        if _repeats(axis, period, step):
            return AxisMap(period, step, axis.first_offsets[:period], axis.last_offsets[:period])
    return axis


def _repeats(axis: AxisMap, period: int, step: int) -> bool:
    return all(
        axis.first_offsets[o + period] == axis.first_offsets[o] + step
        and axis.last_offsets[o + period] == axis.last_offsets[o] + step
        for o in range(axis.period - period)
    )


def _apply(state: FieldState, window: Window) -> FieldState:
    if isinstance(state, WholeInput) or isinstance(window, WholeInput):
        return WHOLE_INPUT
    if isinstance(state, Unsupported) or isinstance(window, PassThrough):
        return state
    if isinstance(window, Unsupported):
        return window
    return SpatialField(compose(state.height, window[0]), compose(state.width, window[1]))


def _join(first: FieldState, second: FieldState) -> FieldState:
    if isinstance(first, WholeInput) or isinstance(second, WholeInput):
        return WHOLE_INPUT
    if isinstance(first, Unsupported):
        return first
    if isinstance(second, Unsupported):
        return second
    height, width = union(first.height, second.height), union(first.width, second.width)
    if height is None or width is None:
        return MIXED_JUMPS
    return SpatialField(height, width)


def _layer_windows(network: Network, node: LayerNode) -> list[Window]:
    shapes = [network.output_shape(name) for name in node.inputs]
    if node.kind.merge:
        return node.kind.receptive_field(node.config, shapes, node.output_shape)
    return [node.kind.receptive_field(node.config, shapes[0], node.output_shape)]


def receptive_fields(network: Network) -> dict[str, Fields]:
    """Return the field of every node of a checked network, by node name.

    Only image inputs (height x width x channels) start a field, so a network
    on flat vectors gets empty fields.
    """
    fields: dict[str, Fields] = {}
    for node in network.nodes:
        if isinstance(node, InputNode):
            image = len(node.shape) == 3
            fields[node.name] = {node.name: SpatialField(IDENTITY_AXIS, IDENTITY_AXIS)} if image else {}
            continue

        joined: Fields = {}
        for name, window in zip(node.inputs, _layer_windows(network, node)):
            for source, state in fields[name].items():
                state = _apply(state, window)
                joined[source] = _join(joined[source], state) if source in joined else state
        fields[node.name] = joined
    return fields


@dataclass(frozen=True)
class FieldSummary:
    """The reported receptive field of one tensor for one image input.

    `kind` is "window", "whole_input" or "unknown". For a window, `size`,
    `jump` and `start` are (height, width): the widest field of any position
    in input pixels, the input pixels between neighbouring positions, and the
    centre of position 0's field in input pixel coordinates.
    """

    input: str
    kind: str
    size: tuple[int, int] | None = None
    jump: tuple[Fraction, Fraction] | None = None
    start: tuple[Fraction, Fraction] | None = None
    reason: str | None = None


def summarize(fields: Fields) -> list[FieldSummary]:
    """Return the reported field for each image input, in input order."""
    summaries = []
    for source, state in fields.items():
        if isinstance(state, WholeInput):
            summaries.append(FieldSummary(source, "whole_input"))
        elif isinstance(state, Unsupported):
            summaries.append(FieldSummary(source, "unknown", reason=state.reason))
        else:
            summaries.append(FieldSummary(
                source, "window", (state.height.size, state.width.size), (state.height.jump, state.width.jump),
                (state.height.start, state.width.start),
            ))
    return summaries


def position_field(state: SpatialField, row: int, column: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Return the ((first, last) row, (first, last) column) input pixels seen by one position."""
    return ((state.height.first(row), state.height.last(row)),
            (state.width.first(column), state.width.last(column)))


def format_number(value: Fraction) -> str:
    """Write 16 as `16`, 1/2 as `0.5` and 7.5 as `7.5`."""
    return str(value.numerator) if value.denominator == 1 else f"{float(value):g}"


def format_pair(pair) -> str:
    """Write a square pair as one number and another as height x width."""
    first, second = (format_number(Fraction(value)) for value in pair)
    return first if first == second else f"{first}x{second}"

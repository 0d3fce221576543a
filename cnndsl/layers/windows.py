"""Receptive-field rules: the input positions that each output position of a layer reads.

Along one spatial axis, output position o of a layer reads the input positions
first(o) to last(o). Positions are virtual: -1 is the first row of padding, so
the rules ignore the image border, as receptive-field arithmetic does. Every
layer kind of cnndsl gives maps of one form, periodic-linear:

    first(o) = first_offsets[o % period] + (o // period) * step

A convolution has period 1 and step = stride. Upsampling by 2 has period 2 and
step 1 (two outputs read the same input). The receptive field of a tensor has
the same form, with image pixels as positions, so one class serves both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Union

from cnndsl.layers.shape_rules import dilated_kernel


@dataclass(frozen=True)
class AxisMap:
    """Output position o reads input positions first(o)..last(o) along one axis.

    Both bounds are non-decreasing in o and repeat with `period`: moving `period`
    outputs on moves both bounds `step` inputs on.
    """

    period: int
    step: int
    first_offsets: tuple[int, ...]
    last_offsets: tuple[int, ...]

    def first(self, position: int) -> int:
        cycles, phase = divmod(position, self.period)
        return self.first_offsets[phase] + cycles * self.step

    def last(self, position: int) -> int:
        cycles, phase = divmod(position, self.period)
        return self.last_offsets[phase] + cycles * self.step

    @property
    def jump(self) -> Fraction:
        """Input positions between neighbouring outputs, on average (the effective stride)."""
        return Fraction(self.step, self.period)

    @property
    def size(self) -> int:
        """The widest range read by any output position."""
        return max(last - first + 1 for first, last in zip(self.first_offsets, self.last_offsets))

    @property
    def start(self) -> Fraction:
        """The centre of the range read by output position 0."""
        return Fraction(self.first_offsets[0] + self.last_offsets[0], 2)


def periodic_map(period: int, step: int, first: Callable[[int], int], last: Callable[[int], int]) -> AxisMap:
    """Tabulate `first` and `last` over one period; the caller guarantees the periodicity."""
    return AxisMap(period, step, tuple(first(o) for o in range(period)), tuple(last(o) for o in range(period)))


IDENTITY_AXIS = AxisMap(1, 1, (0,), (0,))


def shift_axis(offset: int) -> AxisMap:
    """Output position o reads input position o + offset (cropping: +top, padding: -top)."""
    return AxisMap(1, 1, (offset,), (offset,))


def window_axis(kernel: int, stride: int, dilation: int, pad_before: int) -> AxisMap:
    """Output o of a convolution or pooling window reads o * stride - pad_before onwards."""
    extent = dilated_kernel(kernel, dilation)
    return AxisMap(1, stride, (-pad_before,), (-pad_before + extent - 1,))


def same_pad_before(length: int, kernel: int, stride: int, dilation: int = 1) -> int:
    """Return the padding before the first position of a `same` window, as TensorFlow pads.

    The total padding makes ceil(length / stride) outputs; when it is odd, the
    extra row or column goes after the last position (bottom or right).

    >>> same_pad_before(224, 3, 2)
    0
    >>> same_pad_before(7, 3, 2)
    1
    """
    outputs = math.ceil(length / stride)
    padding = max((outputs - 1) * stride + dilated_kernel(kernel, dilation) - length, 0)
    return padding // 2


def transpose_axis(kernel: int, stride: int, dilation: int, pad_before: int) -> AxisMap:
    """Output o of a transposed convolution reads every input m with m * stride + tap = o + pad_before.

    The taps are 0, dilation, ..., (kernel - 1) * dilation. For a kernel
    smaller than the stride, some outputs read no input, and their range is
    empty (last < first).
    """
    extent = dilated_kernel(kernel, dilation)
    return periodic_map(
        stride, 1,
        lambda o: -((extent - 1 - o - pad_before) // stride),  # ceil((o + pad - extent + 1) / stride)
        lambda o: (o + pad_before) // stride,
    )


def resize_axis(factor: int, taps_before: int, taps_after: int, centred: bool) -> AxisMap:
    """Output o of an upsampling by `factor` reads the input positions around its source point.

    A nearest-neighbour copy (`centred=False`) reads o // factor. Interpolation
    (`centred=True`) maps o to the source point (o + 1/2) / factor - 1/2, as
    half-pixel resizing does, and reads floor(point) - taps_before to
    floor(point) + taps_after.
    """
    def anchor(o: int) -> int:
        if not centred:
            return o // factor
        return (2 * o + 1 - factor) // (2 * factor)

    return periodic_map(factor, 1, lambda o: anchor(o) - taps_before, lambda o: anchor(o) + taps_after)


@dataclass(frozen=True)
class PassThrough:
    """The layer keeps the receptive field: each output reads the same position of its inputs."""


@dataclass(frozen=True)
class WholeInput:
    """Every output depends on every input position (global pooling, flatten, reshape)."""


@dataclass(frozen=True)
class Unsupported:
    """A receptive field that has no periodic-linear form, with the `reason`."""

    reason: str


Window = Union[tuple[AxisMap, AxisMap], PassThrough, WholeInput, Unsupported]
"""A layer's receptive-field rule: maps for (height, width), or one of the special cases."""

PASS_THROUGH = PassThrough()
WHOLE_INPUT = WholeInput()

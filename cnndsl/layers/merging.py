"""Merge layer kinds: add, subtract, multiply, average, maximum, minimum, concat.

Element-wise merges follow Keras 3's broadcasting (keras.src.layers.merging.
base_merge, Keras 3.15). Shapes are aligned from the last axis, and a size of
1 stretches to the other size. Any other difference is an error. When ranks
differ, Keras also inserts size-1 axes after the batch axis of the shorter
input before merging, so both alignments must agree.

A merge reads the same position of each input, so its receptive field is the
union of its inputs' fields. Its `receptive_field` rule returns one window per
input. Merges count no MACs (docs/analysis.md).
"""

from __future__ import annotations

from cnndsl.errors import MergeMismatch, OptionError
from cnndsl.layers.base import AxisFormula, Config, LayerKind, OptionSpec, Shape
from cnndsl.layers.formulas import total
from cnndsl.layers.values import Integer
from cnndsl.layers.windows import IDENTITY_AXIS, PASS_THROUGH, AxisMap, Unsupported, Window

# Every output position reads position 0 of an input broadcast from size 1.
_BROADCAST_AXIS = AxisMap(1, 0, (0,), (0,))

PROJECT_FIX = "make both branches produce the same shape, e.g. project the shortcut with a 1x1 conv (`conv N k1`)"


def broadcast_pair(first: Shape, second: Shape) -> Shape | None:
    """Return the shape of an element-wise operation, or None if Keras rejects it.

    >>> broadcast_pair((4, 4, 3), (1, 1, 3))
    (4, 4, 3)
    >>> broadcast_pair((4, 4, 3), (4, 4, 5)) is None
    True
    """
    longer, shorter = (first, second) if len(first) >= len(second) else (second, first)
    result = list(longer[: len(longer) - len(shorter)])
    for a, b in zip(longer[len(longer) - len(shorter):], shorter):
        if a == 1:
            result.append(b)
        elif b == 1 or a == b:
            result.append(a)
        else:
            return None
    return tuple(result)


def _left_expanded(shape: Shape, rank: int) -> Shape:
    return (*([1] * (rank - len(shape))), *shape)


def _first_difference(first: Shape, second: Shape) -> int | None:
    """Return the axis (of `first`) where the shapes clash, aligned from the last axis as Keras does."""
    for offset in range(1, min(len(first), len(second)) + 1):
        a, b = first[-offset], second[-offset]
        if a != b and a != 1 and b != 1:
            return len(first) - offset
    return None


def elementwise_shape(config: Config, shapes: list[Shape]) -> Shape:
    output = shapes[0]
    for index, shape in enumerate(shapes[1:], start=1):
        rank = max(len(output), len(shape))
        aligned_right = broadcast_pair(output, shape)
        aligned_left = broadcast_pair(_left_expanded(output, rank), _left_expanded(shape, rank))
        if aligned_right is None or aligned_left is None:
            raise MergeMismatch(0, index, _first_difference(output, shape), PROJECT_FIX)
        output = aligned_left
    return output


def _broadcast_window(shape: Shape, output: Shape) -> Window:
    if len(shape) != 3 or len(output) != 3:
        return PASS_THROUGH
    height = _BROADCAST_AXIS if shape[0] == 1 and output[0] != 1 else None
    width = _BROADCAST_AXIS if shape[1] == 1 and output[1] != 1 else None
    if height is None and width is None:
        return PASS_THROUGH
    return (height or IDENTITY_AXIS, width or IDENTITY_AXIS)


def elementwise_receptive_field(config: Config, shapes: list[Shape], output: Shape) -> list[Window]:
    return [_broadcast_window(shape, output) for shape in shapes]


def _elementwise(keyword: str, keras_class: str, summary: str, max_inputs: int | None = None) -> LayerKind:
    return LayerKind(keyword=keyword, keras_class=keras_class, summary=summary, output_shape=elementwise_shape,
                     merge=True, min_inputs=2, max_inputs=max_inputs, receptive_field=elementwise_receptive_field)


ADD = _elementwise("add", "Add", "element-wise sum of the inputs")
SUBTRACT = _elementwise("subtract", "Subtract", "first input minus the second", max_inputs=2)
MULTIPLY = _elementwise("multiply", "Multiply", "element-wise product of the inputs")
AVERAGE = _elementwise("average", "Average", "element-wise mean of the inputs")
MAXIMUM = _elementwise("maximum", "Maximum", "element-wise maximum of the inputs")
MINIMUM = _elementwise("minimum", "Minimum", "element-wise minimum of the inputs")


def _concat_shape(config: Config, shapes: list[Shape]) -> Shape:
    rank = len(shapes[0])
    axis = config["axis"]
    if not -rank <= axis < 0 and not 0 < axis <= rank:
        raise OptionError(f"concat axis {axis} is outside the {rank} axes of its inputs (1..{rank} or -{rank}..-1; "
                          "0 is the batch axis)", "use axis=-1 to join channels")
    position = (axis - 1) if axis > 0 else (rank + axis)

    for index, shape in enumerate(shapes[1:], start=1):
        if len(shape) != rank:
            raise MergeMismatch(0, index, None, "concatenate tensors of the same rank")
        for other_axis in range(rank):
            if other_axis != position and shape[other_axis] != shapes[0][other_axis]:
                raise MergeMismatch(0, index, other_axis, "crop the larger input (`crop`) or pad the smaller one "
                                    "(`zeropad`) so that all axes but the joined one match")

    joined = sum(shape[position] for shape in shapes)
    return (*shapes[0][:position], joined, *shapes[0][position + 1:])


def _joined_axis(config: Config, rank: int) -> int:
    axis = config["axis"]
    return (axis - 1) if axis > 0 else (rank + axis)


def _concat_receptive_field(config: Config, shapes: list[Shape], output: Shape) -> list[Window]:
    if len(output) == 3 and _joined_axis(config, 3) < 2:
        # Outputs before and after the seam read different inputs, which no
        # periodic-linear map describes.
        return [Unsupported("concat joins a spatial axis")] * len(shapes)
    return [PASS_THROUGH] * len(shapes)


def _explain_concat(config: Config, shapes: list[Shape], output: Shape) -> list[AxisFormula]:
    rank = len(output)
    position = _joined_axis(config, rank)
    name = ("height", "width", "channels")[position] if rank == 3 else f"axis {position + 1}"
    return [(name, total(*(shape[position] for shape in shapes)))]


def _check_axis(config: Config) -> None:
    if config["axis"] == 0:
        raise OptionError("concat axis 0 is the batch axis", "use axis=-1 to join channels")


CONCAT = LayerKind(
    keyword="concat",
    aliases=("concatenate",),
    keras_class="Concatenate",
    summary="join the inputs along one axis (channels by default)",
    options=(OptionSpec("axis", Integer(minimum=-64), default=-1, help="axis to join along (-1: channels)",
                        positional=True),),
    output_shape=_concat_shape,
    label=lambda config: f"axis {config['axis']}" if config["axis"] != -1 else "",
    validate=_check_axis,
    merge=True,
    min_inputs=2,
    max_inputs=None,
    receptive_field=_concat_receptive_field,
    explain_shape=_explain_concat,
)

KINDS = (ADD, SUBTRACT, MULTIPLY, AVERAGE, MAXIMUM, MINIMUM, CONCAT)

"""Layer kinds that change height and width: zero padding, cropping, upsampling."""

from __future__ import annotations

from cnndsl.errors import ShapeError
from cnndsl.layers.base import AxisFormula, Config, LayerKind, OptionSpec, Shape
from cnndsl.layers.common import label_parts
from cnndsl.layers.formulas import named, product, total
from cnndsl.layers.shape_rules import format_size
from cnndsl.layers.values import Choice, Padding2D, Pair
from cnndsl.layers.windows import Window, resize_axis, shift_axis


def _describe_edges(edges) -> str:
    (top, bottom), (left, right) = edges
    if top == bottom == left == right:
        return str(top)
    if top == bottom and left == right:
        return f"{top}x{left}"
    return f"{top}x{bottom}x{left}x{right}"


def _padded_shape(config: Config, shape: Shape) -> Shape:
    (top, bottom), (left, right) = config["padding"]
    return (shape[0] + top + bottom, shape[1] + left + right, shape[2])


def _shifted(edges, sign: int) -> Window:
    # Output row o is input row o - top after padding and o + top after cropping.
    (top, _), (left, _) = edges
    return (shift_axis(sign * top), shift_axis(sign * left))


def _explain_padded(config: Config, shape: Shape, output: Shape) -> list[AxisFormula]:
    (top, bottom), (left, right) = config["padding"]
    return [("height", total(shape[0], top, bottom)), ("width", total(shape[1], left, right))]


ZEROPAD = LayerKind(
    keyword="zeropad",
    aliases=("zero_padding", "pad"),
    keras_class="ZeroPadding2D",
    summary="add rows and columns of zeros around the image",
    options=(OptionSpec("padding", Padding2D(), default=((1, 1), (1, 1)),
                        help="N, HxW (each side) or TOPxBOTTOMxLEFTxRIGHT", positional=True,
                        keras_positional=True),),
    input_rank=3,
    output_shape=_padded_shape,
    label=lambda config: _describe_edges(config["padding"]),
    receptive_field=lambda config, shape, output: _shifted(config["padding"], -1),
    explain_shape=_explain_padded,
)


def _cropped_shape(config: Config, shape: Shape) -> Shape:
    (top, bottom), (left, right) = config["cropping"]
    sizes = (shape[0] - top - bottom, shape[1] - left - right)
    if min(sizes) < 1:
        raise ShapeError(
            f"crop {_describe_edges(config['cropping'])} removes {top + bottom}x{left + right} "
            f"from an input of {format_size(shape[:2])}, leaving nothing",
            "crop fewer rows and columns than the input has",
        )
    return (*sizes, shape[2])


def _explain_cropped(config: Config, shape: Shape, output: Shape) -> list[AxisFormula]:
    (top, bottom), (left, right) = config["cropping"]
    return [("height", named(f"{shape[0]:,} - {top} - {bottom}", output[0])),
            ("width", named(f"{shape[1]:,} - {left} - {right}", output[1]))]


CROP = LayerKind(
    keyword="crop",
    aliases=("cropping",),
    keras_class="Cropping2D",
    summary="remove rows and columns at the edges",
    options=(OptionSpec("cropping", Padding2D(), default=((0, 0), (0, 0)),
                        help="N, HxW (each side) or TOPxBOTTOMxLEFTxRIGHT", positional=True,
                        keras_positional=True),),
    input_rank=3,
    output_shape=_cropped_shape,
    label=lambda config: _describe_edges(config["cropping"]),
    receptive_field=lambda config, shape, output: _shifted(config["cropping"], 1),
    explain_shape=_explain_cropped,
)

INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos3", "lanczos5", "area")

# Input positions read around the source point of an output, before and after
# it, for each interpolation; False marks a plain copy of one input position.
# Keras 3.15 repeats rows and columns for `nearest` and calls tf.image.resize
# (half-pixel centres, no antialiasing) for the others. `area` resizing by a
# whole factor keeps each output inside one input pixel, like `nearest`.
# NOTE: the bicubic and Lanczos taps are the kernels' supports (radius 2, 3
# and 5); tests check only `nearest` and `bilinear` against Keras gradients.
_RESIZE_TAPS = {
    "nearest": (0, 0, False), "area": (0, 0, False), "bilinear": (0, 1, True),
    "bicubic": (1, 2, True), "lanczos3": (2, 3, True), "lanczos5": (4, 5, True),
}


def _upsample_rf(config: Config, shape: Shape, output: Shape) -> Window:
    before, after, centred = _RESIZE_TAPS[config["interpolation"]]
    height, width = config["size"]
    return (resize_axis(height, before, after, centred), resize_axis(width, before, after, centred))


def _explain_upsampled(config: Config, shape: Shape, output: Shape) -> list[AxisFormula]:
    return [("height", product(shape[0], config["size"][0])), ("width", product(shape[1], config["size"][1]))]


UPSAMPLE = LayerKind(
    keyword="upsample",
    aliases=("upsampling",),
    keras_class="UpSampling2D",
    summary="repeat rows and columns (or interpolate) to enlarge the image",
    options=(OptionSpec("size", Pair(), default=(2, 2), help="factor for height and width", positional=True,
                        keras_positional=True),
             OptionSpec("interpolation", Choice(INTERPOLATIONS), default="nearest",
                        help="how new pixels are filled", flags={name: name for name in INTERPOLATIONS})),
    input_rank=3,
    output_shape=lambda config, shape: (shape[0] * config["size"][0], shape[1] * config["size"][1], shape[2]),
    label=lambda config: label_parts(f"x{format_size(config['size'])}",
                                     config["interpolation"] if config["interpolation"] != "nearest" else None),
    receptive_field=_upsample_rf,
    explain_shape=_explain_upsampled,
)

KINDS = (ZEROPAD, CROP, UPSAMPLE)

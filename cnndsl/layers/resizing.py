"""Layer kinds that change height and width: zero padding, cropping, upsampling."""

from __future__ import annotations

from cnndsl.errors import ShapeError
from cnndsl.layers.base import Config, LayerKind, OptionSpec, Shape
from cnndsl.layers.common import label_parts
from cnndsl.layers.shape_rules import format_size
from cnndsl.layers.values import Choice, Padding2D, Pair


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
)

INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos3", "lanczos5", "area")

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
)

KINDS = (ZEROPAD, CROP, UPSAMPLE)

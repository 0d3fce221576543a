"""Core layer kinds: dense, flatten, reshape, dropout, rescaling."""

from __future__ import annotations

import math

from cnndsl.errors import ShapeError
from cnndsl.layers.base import Config, LayerKind, OptionSpec, Shape
from cnndsl.layers.common import activation_option, bias_option, count, label_parts
from cnndsl.layers.shape_rules import format_size
from cnndsl.layers.values import Integer, Number, TargetShape


def _dense_params(config: Config, shape: Shape) -> tuple[int, int]:
    units = config["units"]
    return (shape[-1] * units + (units if config["use_bias"] else 0), 0)


def _dense_warnings(config: Config, shape: Shape) -> list[tuple[str, str]]:
    if len(shape) == 1:
        return []
    return [(
        f"dense receives a {len(shape)}-D input of shape {format_size(shape)} and, as in Keras, acts on the "
        f"last axis only, giving {format_size((*shape[:-1], config['units']))}",
        "add `flatten` or `gavgpool` before it if you meant one vector per sample",
    )]


DENSE = LayerKind(
    keyword="dense",
    aliases=("fc",),
    keras_class="Dense",
    summary="fully connected layer (acts on the last axis)",
    options=(OptionSpec("units", Integer(), help="number of outputs", positional=True, keras_positional=True),
             activation_option(), bias_option()),
    output_shape=lambda config, shape: (*shape[:-1], config["units"]),
    params=_dense_params,
    label=lambda config: label_parts(count(config['units'], "unit"), config["activation"],
                                     None if config["use_bias"] else "no bias"),
    warnings=_dense_warnings,
)


FLATTEN = LayerKind(
    keyword="flatten",
    keras_class="Flatten",
    summary="flatten every axis but the batch axis into one",
    output_shape=lambda config, shape: (math.prod(shape),),
)


def _reshape_shape(config: Config, shape: Shape) -> Shape:
    target = config["target_shape"]
    size = math.prod(shape)
    known = math.prod(dim for dim in target if dim != -1)

    if -1 in target:
        if size % known:
            raise ShapeError(
                f"reshape cannot infer the -1 dimension: {size} values ({format_size(shape)}) "
                f"do not divide into parts of {known}",
                "choose a target whose known dimensions divide the input size",
            )
        return tuple(size // known if dim == -1 else dim for dim in target)

    if known != size:
        raise ShapeError(
            f"reshape to {format_size(target)} needs {known} values but receives {size} ({format_size(shape)})",
            "choose a target shape with the same number of values, or use -1 for one dimension",
        )
    return target


RESHAPE = LayerKind(
    keyword="reshape",
    keras_class="Reshape",
    summary="reshape to a target shape (one dimension may be -1)",
    options=(OptionSpec("target_shape", TargetShape(), help="shape without the batch axis", aliases=("shape",),
                        positional=True, keras_positional=True),),
    output_shape=_reshape_shape,
    label=lambda config: format_size(config["target_shape"]),
)


def _rate_option() -> OptionSpec:
    return OptionSpec("rate", Number(0.0, 1.0), help="fraction of inputs to drop", positional=True,
                      keras_positional=True)


DROPOUT = LayerKind(
    keyword="dropout",
    keras_class="Dropout",
    summary="randomly zero inputs during training",
    options=(_rate_option(),),
    label=lambda config: f"rate {float(config['rate']):g}",
)

SPATIAL_DROPOUT = LayerKind(
    keyword="spatialdropout",
    aliases=("spatial_dropout", "sdropout"),
    keras_class="SpatialDropout2D",
    summary="randomly zero whole channels during training",
    options=(_rate_option(),),
    input_rank=3,
    label=lambda config: f"rate {float(config['rate']):g}",
)

RESCALE = LayerKind(
    keyword="rescale",
    aliases=("rescaling",),
    keras_class="Rescaling",
    summary="multiply by a scale, then add an offset",
    options=(OptionSpec("scale", Number(), help="factor, e.g. 1/255", positional=True, keras_positional=True),
             OptionSpec("offset", Number(), default=0.0, help="value added after scaling")),
    label=lambda config: label_parts(f"x {_ratio(config['scale'])}",
                                     f"+ {_ratio(config['offset'])}" if config["offset"] else None),
)


def _ratio(value) -> str:
    return str(value) if hasattr(value, "denominator") and value.denominator != 1 else f"{float(value):g}"


KINDS = (DENSE, FLATTEN, RESHAPE, DROPOUT, SPATIAL_DROPOUT, RESCALE)

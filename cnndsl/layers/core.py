"""Core layer kinds: dense, flatten, reshape, dropout, rescaling."""

from __future__ import annotations

import math

from cnndsl.errors import ShapeError
from cnndsl.layers.base import AxisFormula, Config, LayerKind, OptionSpec, ParamsFormula, Shape
from cnndsl.layers.common import activation_option, bias_option, count, label_parts
from cnndsl.layers.formulas import ZERO, Formula, group, named, product, total
from cnndsl.layers.shape_rules import format_size
from cnndsl.layers.values import Integer, Number, TargetShape
from cnndsl.layers.windows import WHOLE_INPUT


def _dense_params(config: Config, shape: Shape) -> tuple[int, int]:
    units = config["units"]
    return (shape[-1] * units + (units if config["use_bias"] else 0), 0)


def _explain_dense_params(config: Config, shape: Shape) -> ParamsFormula:
    # units x (inputs + 1 bias)
    if config["use_bias"]:
        return product(config["units"], total(shape[-1], 1)), ZERO
    return product(config["units"], shape[-1]), ZERO


def _dense_macs(config: Config, shape: Shape, output: Shape) -> Formula:
    # Keras applies the same matrix at every position of the leading axes.
    matrix = product(shape[-1], config["units"])
    if len(shape) == 1:
        return matrix
    return product(group(product(*shape[:-1])), group(matrix))


def _dense_warnings(config: Config, shape: Shape) -> list[tuple[str, str]]:
    if len(shape) == 1:
        return []
    return [(
        f"dense receives a {len(shape)}-D input of shape {format_size(shape)} and, as in Keras, acts on the "
        f"last axis only, giving {format_size((*shape[:-1], config['units']))}",
        "add `flatten` or `gavgpool` before it if you meant one vector per sample",
    )]


def _dense_shape(config: Config, shape: Shape) -> Shape:
    if shape[-1] is None:
        # Keras raises "Shapes used to initialize variables must be fully-defined" here.
        raise ShapeError(f"dense needs a known last axis to size its kernel but receives shape {format_size(shape)}",
                         "give the input fixed sizes, or use `gavgpool` instead of `flatten` before it")
    return (*shape[:-1], config["units"])


DENSE = LayerKind(
    keyword="dense",
    aliases=("fc",),
    keras_class="Dense",
    summary="fully connected layer (acts on the last axis)",
    options=(OptionSpec("units", Integer(), help="number of outputs", positional=True, keras_positional=True),
             activation_option(), bias_option()),
    output_shape=_dense_shape,
    params=_dense_params,
    label=lambda config: label_parts(count(config['units'], "unit"), config["activation"],
                                     None if config["use_bias"] else "no bias"),
    warnings=_dense_warnings,
    macs=_dense_macs,
    explain_params=_explain_dense_params,
)


def _flatten_shape(config: Config, shape: Shape) -> Shape:
    return (None,) if None in shape else (math.prod(shape),)


def _flatten_warnings(config: Config, shape: Shape) -> list[tuple[str, str]]:
    # Keras builds Flatten on an input of unknown size silently, and the
    # failure appears only at the next layer with weights.
    if None not in shape:
        return []
    return [(f"flatten receives shape {format_size(shape)} with an unknown size, so its output size is unknown "
             "and a dense layer after it cannot be built",
             "give the input fixed sizes, or use `gavgpool` to get one vector per sample")]


FLATTEN = LayerKind(
    keyword="flatten",
    keras_class="Flatten",
    summary="flatten every axis but the batch axis into one",
    output_shape=_flatten_shape,
    warnings=_flatten_warnings,
    receptive_field=lambda config, shape, output: WHOLE_INPUT,
    explain_shape=lambda config, shape, output: [("features", product(*shape))],
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


def _explain_reshape(config: Config, shape: Shape, output: Shape) -> list[AxisFormula]:
    target = config["target_shape"]
    if -1 not in target:
        return []
    known = [dim for dim in target if dim != -1]
    size = math.prod(shape)
    divisor = product(*known).text if len(known) == 1 else f"({product(*known).text})"
    return [(f"axis {target.index(-1) + 1} (-1)", named(f"{size:,} / {divisor}", output[target.index(-1)]))]


RESHAPE = LayerKind(
    keyword="reshape",
    keras_class="Reshape",
    summary="reshape to a target shape (one dimension may be -1)",
    options=(OptionSpec("target_shape", TargetShape(), help="shape without the batch axis", aliases=("shape",),
                        positional=True, keras_positional=True),),
    output_shape=_reshape_shape,
    label=lambda config: format_size(config["target_shape"]),
    # Reshaping moves values between positions, so no output keeps a spatial window.
    receptive_field=lambda config, shape, output: WHOLE_INPUT,
    explain_shape=_explain_reshape,
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

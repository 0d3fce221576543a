"""Convolution layer kinds: conv, dwconv, sepconv and deconv (transposed)."""

from __future__ import annotations

from cnndsl.errors import OptionError
from cnndsl.layers.base import Config, LayerKind, OptionSpec, Shape
from cnndsl.layers.common import (
    activation_option, bias_option, channels, count, describe_window, dilation_option, kernel_option,
    label_parts, padding_option, strides_option, windowed_output,
)
from cnndsl.layers.shape_rules import transpose_output_length
from cnndsl.layers.values import Integer, Pair


def _filters_option() -> OptionSpec:
    return OptionSpec("filters", Integer(), help="number of output channels", positional=True,
                      keras_positional=True)


def _multiplier_option() -> OptionSpec:
    return OptionSpec("depth_multiplier", Integer(), default=1, help="output channels per input channel",
                      aliases=("multiplier",), prefix="m")


def _reject_strided_dilation(config: Config) -> None:
    # Keras 3.15 raises this in the constructors of Conv2D and Conv2DTranspose.
    if config["strides"] != (1, 1) and config["dilation_rate"] != (1, 1):
        raise OptionError(
            "strides > 1 cannot be combined with dilation > 1 "
            f"(received strides={config['strides']}, dilation_rate={config['dilation_rate']})",
            "use either a stride or a dilation in this layer",
        )


def _conv_shape(config: Config, shape: Shape) -> Shape:
    return (*windowed_output(config, shape, "kernel_size", "conv"), config["filters"])


def _conv_params(config: Config, shape: Shape) -> tuple[int, int]:
    height, width = config["kernel_size"]
    weights = height * width * channels(shape) * config["filters"]
    return (weights + (config["filters"] if config["use_bias"] else 0), 0)


def _conv_label(config: Config) -> str:
    return label_parts(count(config['filters'], "filter"), describe_window(config, "kernel_size"),
                       config["padding"], config["activation"], None if config["use_bias"] else "no bias")


CONV = LayerKind(
    keyword="conv",
    aliases=("conv2d",),
    keras_class="Conv2D",
    summary="2-D convolution",
    options=(_filters_option(), kernel_option(), strides_option(), padding_option(), dilation_option(),
             activation_option(), bias_option()),
    input_rank=3,
    output_shape=_conv_shape,
    params=_conv_params,
    label=_conv_label,
    validate=_reject_strided_dilation,
)


def _depthwise_shape(config: Config, shape: Shape) -> Shape:
    return (*windowed_output(config, shape, "kernel_size", "dwconv"), channels(shape) * config["depth_multiplier"])


def _depthwise_params(config: Config, shape: Shape) -> tuple[int, int]:
    height, width = config["kernel_size"]
    outputs = channels(shape) * config["depth_multiplier"]
    return (height * width * outputs + (outputs if config["use_bias"] else 0), 0)


def _depthwise_label(config: Config) -> str:
    multiplier = config["depth_multiplier"]
    return label_parts(describe_window(config, "kernel_size"), f"x{multiplier} per channel" if multiplier > 1 else None,
                       config["padding"], config["activation"], None if config["use_bias"] else "no bias")


DWCONV = LayerKind(
    keyword="dwconv",
    aliases=("depthwise",),
    keras_class="DepthwiseConv2D",
    summary="depthwise 2-D convolution (one filter per input channel)",
    options=(kernel_option(positional=True), strides_option(), padding_option(), _multiplier_option(),
             dilation_option(), activation_option(), bias_option()),
    input_rank=3,
    output_shape=_depthwise_shape,
    params=_depthwise_params,
    label=_depthwise_label,
    # No strides-with-dilation check: Keras 3.15 DepthwiseConv2D accepts both
    # and runs, unlike Conv2D and Conv2DTranspose.
)


def _separable_shape(config: Config, shape: Shape) -> Shape:
    return (*windowed_output(config, shape, "kernel_size", "sepconv"), config["filters"])


def _separable_params(config: Config, shape: Shape) -> tuple[int, int]:
    height, width = config["kernel_size"]
    depthwise = height * width * channels(shape) * config["depth_multiplier"]
    pointwise = channels(shape) * config["depth_multiplier"] * config["filters"]
    return (depthwise + pointwise + (config["filters"] if config["use_bias"] else 0), 0)


SEPCONV = LayerKind(
    keyword="sepconv",
    aliases=("separable",),
    keras_class="SeparableConv2D",
    summary="depthwise separable 2-D convolution (depthwise, then 1x1)",
    options=(_filters_option(), kernel_option(), strides_option(), padding_option(), _multiplier_option(),
             dilation_option(), activation_option(), bias_option()),
    input_rank=3,
    output_shape=_separable_shape,
    params=_separable_params,
    label=_conv_label,
    # No strides-with-dilation check: Keras 3.15 SeparableConv2D accepts both
    # and runs, unlike Conv2D and Conv2DTranspose.
)


def _check_output_padding(config: Config) -> None:
    _reject_strided_dilation(config)
    output_padding = config["output_padding"]
    if output_padding is None:
        return
    for padding, stride in zip(output_padding, config["strides"]):
        if padding >= stride:
            raise OptionError(
                f"output padding must be smaller than the stride, but received output_padding={output_padding} "
                f"with strides={config['strides']}",
                "lower the output padding below the stride, or omit it",
            )


def _transpose_shape(config: Config, shape: Shape) -> Shape:
    output_padding = config["output_padding"] or (None, None)
    sizes = tuple(
        transpose_output_length(shape[axis], config["kernel_size"][axis], config["strides"][axis],
                                config["padding"], output_padding[axis], config["dilation_rate"][axis])
        for axis in (0, 1)
    )
    return (*sizes, config["filters"])


def _transpose_label(config: Config) -> str:
    output_padding = config["output_padding"]
    return label_parts(count(config['filters'], "filter"), describe_window(config, "kernel_size"), config["padding"],
                       f"output padding {output_padding[0]}x{output_padding[1]}" if output_padding else None,
                       config["activation"], None if config["use_bias"] else "no bias")


DECONV = LayerKind(
    keyword="deconv",
    aliases=("convT", "conv_transpose"),
    keras_class="Conv2DTranspose",
    summary="transposed 2-D convolution (learned upsampling)",
    options=(_filters_option(), kernel_option(), strides_option(), padding_option(),
             OptionSpec("output_padding", Pair(minimum=0), default=None, help="extra rows and columns on one side",
                        prefix="op"),
             dilation_option(), activation_option(), bias_option()),
    input_rank=3,
    output_shape=_transpose_shape,
    params=_conv_params,
    label=_transpose_label,
    validate=_check_output_padding,
)

KINDS = (CONV, DWCONV, SEPCONV, DECONV)

"""Convolution layer kinds: conv, dwconv, sepconv and deconv (transposed)."""

from __future__ import annotations

from cnndsl.errors import OptionError
from cnndsl.layers.base import AxisFormula, Config, LayerKind, OptionSpec, ParamsFormula, Shape
from cnndsl.layers.common import (
    activation_option, bias_option, channels, count, describe_window, dilation_option, explain_window,
    kernel_option, label_parts, padding_option, spatial_positions, strides_option, window_receptive_field,
    windowed_output,
)
from cnndsl.layers.formulas import ZERO, Formula, group, named, number, product, total
from cnndsl.layers.shape_rules import dilated_kernel, format_size, transpose_output_length
from cnndsl.layers.values import Integer, Pair
from cnndsl.layers.windows import Window, transpose_axis


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


def _bias(config: Config, size: int) -> list[int]:
    return [size] if config["use_bias"] else []


def _explain_conv_params(config: Config, shape: Shape) -> ParamsFormula:
    # filters x (input channels x kernel height x kernel width + 1 bias)
    height, width = config["kernel_size"]
    per_filter = product(channels(shape), height, width)
    if config["use_bias"]:
        return product(config["filters"], total(per_filter, 1)), ZERO
    return product(config["filters"], per_filter), ZERO


def _conv_macs(config: Config, shape: Shape, output: Shape) -> Formula:
    # One multiply-accumulate per kernel weight at every output position and filter.
    height, width = config["kernel_size"]
    return product(group(product(spatial_positions(output), config["filters"])),
                   group(product(height, width, channels(shape))))


def _explain_conv_shape(config: Config, shape: Shape, output: Shape) -> list[AxisFormula]:
    return explain_window(config, shape, "kernel_size")


def _window_rf(config: Config, shape: Shape, output: Shape) -> Window:
    return window_receptive_field(config, shape, "kernel_size")


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
    macs=_conv_macs,
    receptive_field=_window_rf,
    explain_params=_explain_conv_params,
    explain_shape=_explain_conv_shape,
)


def _depthwise_shape(config: Config, shape: Shape) -> Shape:
    return (*windowed_output(config, shape, "kernel_size", "dwconv"), channels(shape) * config["depth_multiplier"])


def _depthwise_params(config: Config, shape: Shape) -> tuple[int, int]:
    height, width = config["kernel_size"]
    outputs = channels(shape) * config["depth_multiplier"]
    return (height * width * outputs + (outputs if config["use_bias"] else 0), 0)


def _depthwise_outputs(config: Config, shape: Shape) -> Formula:
    multiplier = config["depth_multiplier"]
    return product(channels(shape), multiplier) if multiplier > 1 else number(channels(shape))


def _explain_depthwise_params(config: Config, shape: Shape) -> ParamsFormula:
    # One kh x kw filter (and bias) per output channel.
    height, width = config["kernel_size"]
    outputs = _depthwise_outputs(config, shape)
    if config["use_bias"]:
        return product(outputs, total(product(height, width), 1)), ZERO
    return product(outputs, height, width), ZERO


def _depthwise_macs(config: Config, shape: Shape, output: Shape) -> Formula:
    height, width = config["kernel_size"]
    return product(group(product(spatial_positions(output), _depthwise_outputs(config, shape))),
                   group(product(height, width)))


def _explain_depthwise_shape(config: Config, shape: Shape, output: Shape) -> list[AxisFormula]:
    lines = explain_window(config, shape, "kernel_size")
    if config["depth_multiplier"] > 1:
        lines.append(("channels", _depthwise_outputs(config, shape)))
    return lines


def _depthwise_warnings(config: Config, shape: Shape) -> list[tuple[str, str]]:
    # TensorFlow 2.21's DepthwiseConv2dNative kernel, which DepthwiseConv2D and
    # SeparableConv2D call without dilation, requires equal strides, although
    # Keras builds the layer. With a dilation above 1 TensorFlow takes another
    # path, which runs (measured on the CPU, tests/test_runtime_warnings.py).
    strides = config["strides"]
    if strides[0] == strides[1] or config["dilation_rate"] != (1, 1):
        return []
    return [(f"strides {format_size(strides)} differ along height and width: the layer builds, but every "
             "call fails (\"Current implementation only supports equal length strides in the row and column "
             "dimensions\")", "use equal strides, e.g. `s2`, and crop or pad the result if you need another size")]


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
    warnings=_depthwise_warnings,
    macs=_depthwise_macs,
    receptive_field=_window_rf,
    explain_params=_explain_depthwise_params,
    explain_shape=_explain_depthwise_shape,
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


def _explain_separable_params(config: Config, shape: Shape) -> ParamsFormula:
    # depthwise kh x kw x C x multiplier, then pointwise C x multiplier x filters, then bias
    height, width = config["kernel_size"]
    depthwise = _depthwise_outputs(config, shape)
    return total(product(height, width, depthwise), product(depthwise, config["filters"]),
                 *_bias(config, config["filters"])), ZERO


def _separable_macs(config: Config, shape: Shape, output: Shape) -> Formula:
    # The depthwise step runs at the output resolution (it carries the stride),
    # then the 1x1 pointwise step mixes the channels.
    height, width = config["kernel_size"]
    depthwise_outputs = group(product(spatial_positions(output), _depthwise_outputs(config, shape)))
    return total(product(depthwise_outputs, group(product(height, width))),
                 product(depthwise_outputs, config["filters"]))


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
    warnings=_depthwise_warnings,
    macs=_separable_macs,
    receptive_field=_window_rf,
    explain_params=_explain_separable_params,
    explain_shape=_explain_conv_shape,
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


def _transpose_warnings(config: Config, shape: Shape) -> list[tuple[str, str]]:
    """Warn about transposed convolutions that Keras builds but TensorFlow cannot run.

    Both cases were measured with TensorFlow 2.21 and Keras 3.15 on the CPU,
    and tests/test_runtime_warnings.py sweeps them. The CPU kernel of
    Conv2DBackpropInput rejects every dilation above 1. With `same` padding,
    an output padding of 0 on an axis whose (dilated) kernel is even makes the
    output one row or column shorter than TensorFlow expects.
    """
    warnings = []
    if config["dilation_rate"] != (1, 1):
        warnings.append((
            f"deconv with dilation_rate={config['dilation_rate']} builds, but TensorFlow cannot run it on the CPU "
            "(\"Current CPU implementations do not yet support dilation rates larger than 1\")",
            "remove the dilation (`d1`), or run the model on a GPU only"))

    output_padding = config["output_padding"]
    if config["padding"] == "same" and output_padding is not None:
        axes = [name for axis, name in enumerate(("height", "width"))
                if output_padding[axis] == 0
                and dilated_kernel(config["kernel_size"][axis], config["dilation_rate"][axis]) % 2 == 0]
        if axes:
            warnings.append((
                f"deconv with `same` padding, an even kernel {format_size(config['kernel_size'])} and output "
                f"padding 0 on the {' and '.join(axes)} builds, but every call fails: TensorFlow expects one "
                "more row or column (\"Size of out_backprop doesn't match computed\")",
                "use an odd kernel size, omit the output padding, or set it to 1 or more"))
    return warnings


def _transpose_shape(config: Config, shape: Shape) -> Shape:
    output_padding = config["output_padding"] or (None, None)
    sizes = tuple(
        transpose_output_length(shape[axis], config["kernel_size"][axis], config["strides"][axis],
                                config["padding"], output_padding[axis], config["dilation_rate"][axis])
        for axis in (0, 1)
    )
    return (*sizes, config["filters"])


def _transpose_macs(config: Config, shape: Shape, output: Shape) -> Formula:
    # Every input value is multiplied by a whole kh x kw x filters kernel slice,
    # including products that land in the cropped border.
    height, width = config["kernel_size"]
    return product(group(product(shape[0], shape[1], channels(shape))), group(product(height, width, config["filters"])))


def _transpose_pad_before(config: Config, length: int, output_length: int, axis: int) -> int:
    # TensorFlow pads as the convolution whose gradient this layer is, and
    # `same` puts an odd extra row or column after the last position.
    if config["padding"] == "valid":
        return 0
    extent = dilated_kernel(config["kernel_size"][axis], config["dilation_rate"][axis])
    return max((length - 1) * config["strides"][axis] + extent - output_length, 0) // 2


def _transpose_rf(config: Config, shape: Shape, output: Shape) -> Window:
    maps = tuple(
        transpose_axis(config["kernel_size"][axis], config["strides"][axis], config["dilation_rate"][axis],
                       _transpose_pad_before(config, shape[axis], output[axis], axis))
        for axis in (0, 1)
    )
    return (maps[0], maps[1])


def _explain_transpose_axis(config: Config, length: int, axis: int) -> str:
    kernel, stride = config["kernel_size"][axis], config["strides"][axis]
    extent = dilated_kernel(kernel, config["dilation_rate"][axis])
    output_padding = config["output_padding"]
    if output_padding is None:
        if config["padding"] == "valid":
            return f"{length:,} x {stride} + max({extent} - {stride}, 0)"
        return f"{length:,} x {stride}"
    pad = f" - 2 x {extent // 2}" if config["padding"] == "same" else ""
    return f"({length:,} - 1) x {stride} + {extent}{pad} + {output_padding[axis]}"


def _explain_transpose_shape(config: Config, shape: Shape, output: Shape) -> list[AxisFormula]:
    return [(name, named(_explain_transpose_axis(config, shape[axis], axis), output[axis]))
            for axis, name in ((0, "height"), (1, "width"))]


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
    warnings=_transpose_warnings,
    macs=_transpose_macs,
    receptive_field=_transpose_rf,
    explain_params=_explain_conv_params,
    explain_shape=_explain_transpose_shape,
)

KINDS = (CONV, DWCONV, SEPCONV, DECONV)

"""One drawing function per layer kind: Keras arguments, DSL text and a rough output shape.

The output shape is only a guess that steers the generator towards specs that
mostly build. The tests compare cnndsl with Keras, never with this guess.
"""

from __future__ import annotations

import math
from typing import Callable

from specgen_layers import (
    INTERPOLATIONS, STANDALONE_ACTIVATIONS, Context, Draw, LayerPlan, ParamExpr, Shape, activation_text, bias_text,
    both, count_text, draw_activation, draw_count, draw_step, draw_window, evaluated, layer_text, number_text,
    option_text, pair_text,
)


def _window_length(length: int, window: int, stride: int, padding: str, dilation: int = 1) -> int:
    if padding == "same":
        return math.ceil(length / stride)
    return (length - (window - 1) * dilation - 1) // stride + 1


def _windowed(context: Context, window, strides, padding: str, dilation=1) -> tuple[int, int] | None:
    if context.shape is None or len(context.shape) != 3:
        return None
    window, strides, dilation = both(window), both(strides), both(dilation)
    if min(*window, *strides, *dilation) < 1:
        return None
    return tuple(_window_length(context.shape[axis], window[axis], strides[axis], padding, dilation[axis])
                 for axis in (0, 1))


def _with_channels(sizes: tuple[int, int] | None, channels: int | None) -> Shape | None:
    if sizes is None or channels is None or min(sizes) < 1:
        return None
    return (*sizes, channels)


def _channels(context: Context) -> int | None:
    return context.shape[-1] if context.shape else None


def _common_conv_options(draw: Draw, context: Context, *, dilation_allowed_with_strides: bool):
    kernel = draw_window(draw, context)
    strides = draw_step(draw) if draw.chance(0.4) else 1
    dilation = 1
    if draw.chance(0.25) and (strides == 1 or dilation_allowed_with_strides or draw.chance(context.invalid_rate)):
        dilation = draw_step(draw, high=3)
    padding = draw.choice(("valid", "same"))
    return kernel, strides, dilation, padding


def _conv_option_texts(draw: Draw, kernel, strides, dilation, padding: str, *, kernel_bare: bool = False) -> list[str]:
    texts = [option_text(draw, pair_text(kernel), bare=kernel_bare, compact="k", keywords=("kernel_size", "kernel"))]
    if strides != 1 or draw.chance(0.1):
        texts.append(option_text(draw, pair_text(strides), compact="s", keywords=("strides", "stride")))
    if dilation != 1 or draw.chance(0.1):
        texts.append(option_text(draw, pair_text(dilation), compact="d", keywords=("dilation_rate", "dilation")))
    if padding == "same" or draw.chance(0.3):
        texts.append(draw.choice((padding, f"padding={padding}")))
    return texts


def draw_conv(draw: Draw, context: Context) -> LayerPlan:
    filters = draw_count(draw, context)
    kernel, strides, dilation, padding = _common_conv_options(draw, context, dilation_allowed_with_strides=False)
    activation, use_bias = draw_activation(draw), draw.chance(0.8)
    texts = [option_text(draw, count_text(filters), bare=True, keywords=("filters",)),
             *_conv_option_texts(draw, kernel, strides, dilation, padding),
             activation_text(draw, activation), bias_text(draw, use_bias)]
    arguments = {"filters": filters, "kernel_size": kernel, "strides": strides, "dilation_rate": dilation,
                 "padding": padding, "activation": activation, "use_bias": use_bias}
    estimate = _with_channels(_windowed(context, kernel, strides, padding, dilation),
                              evaluated(filters, context.params))
    return LayerPlan("Conv2D", arguments, layer_text(draw, ("conv", "conv2d"), texts), "conv", estimate)


def draw_dwconv(draw: Draw, context: Context) -> LayerPlan:
    kernel, strides, dilation, padding = _common_conv_options(draw, context, dilation_allowed_with_strides=True)
    multiplier = draw.integer(1, 3) if draw.chance(0.3) else 1
    if draw.chance(context.invalid_rate / 2):
        multiplier = 0
    activation, use_bias = draw_activation(draw), draw.chance(0.8)
    texts = [*_conv_option_texts(draw, kernel, strides, dilation, padding, kernel_bare=True),
             activation_text(draw, activation), bias_text(draw, use_bias)]
    if multiplier != 1:
        texts.append(option_text(draw, str(multiplier), compact="m", keywords=("depth_multiplier", "multiplier")))
    arguments = {"kernel_size": kernel, "strides": strides, "dilation_rate": dilation, "padding": padding,
                 "depth_multiplier": multiplier, "activation": activation, "use_bias": use_bias}
    channels = _channels(context)
    estimate = _with_channels(_windowed(context, kernel, strides, padding, dilation),
                              channels * multiplier if channels else None)
    return LayerPlan("DepthwiseConv2D", arguments, layer_text(draw, ("dwconv", "depthwise"), texts), "dwconv",
                     estimate)


def draw_sepconv(draw: Draw, context: Context) -> LayerPlan:
    filters = draw_count(draw, context)
    kernel, strides, dilation, padding = _common_conv_options(draw, context, dilation_allowed_with_strides=True)
    multiplier = draw.integer(1, 3) if draw.chance(0.3) else 1
    activation, use_bias = draw_activation(draw), draw.chance(0.8)
    texts = [option_text(draw, count_text(filters), bare=True, keywords=("filters",)),
             *_conv_option_texts(draw, kernel, strides, dilation, padding),
             activation_text(draw, activation), bias_text(draw, use_bias)]
    if multiplier != 1:
        texts.append(option_text(draw, str(multiplier), compact="m", keywords=("depth_multiplier", "multiplier")))
    arguments = {"filters": filters, "kernel_size": kernel, "strides": strides, "dilation_rate": dilation,
                 "padding": padding, "depth_multiplier": multiplier, "activation": activation, "use_bias": use_bias}
    estimate = _with_channels(_windowed(context, kernel, strides, padding, dilation),
                              evaluated(filters, context.params))
    return LayerPlan("SeparableConv2D", arguments, layer_text(draw, ("sepconv", "separable"), texts), "sepconv",
                     estimate)


def _transpose_length(length: int, kernel: int, stride: int, padding: str, output_padding, dilation: int) -> int:
    extent = (kernel - 1) * dilation + 1
    if output_padding is None:
        return length * stride + (max(extent - stride, 0) if padding == "valid" else 0)
    pad = extent // 2 if padding == "same" else 0
    return (length - 1) * stride + extent - 2 * pad + output_padding


def draw_deconv(draw: Draw, context: Context) -> LayerPlan:
    filters = draw_count(draw, context)
    kernel, strides, dilation, padding = _common_conv_options(draw, context, dilation_allowed_with_strides=False)
    output_padding = None
    if draw.chance(0.35):
        largest = max(both(strides)) - 1
        output_padding = draw.integer(0, largest + (1 if draw.chance(context.invalid_rate) else 0))
    activation, use_bias = draw_activation(draw), draw.chance(0.8)
    texts = [option_text(draw, count_text(filters), bare=True, keywords=("filters",)),
             *_conv_option_texts(draw, kernel, strides, dilation, padding),
             activation_text(draw, activation), bias_text(draw, use_bias)]
    if output_padding is not None:
        texts.append(option_text(draw, str(output_padding), compact="op", keywords=("output_padding",)))
    arguments = {"filters": filters, "kernel_size": kernel, "strides": strides, "dilation_rate": dilation,
                 "padding": padding, "output_padding": output_padding, "activation": activation,
                 "use_bias": use_bias}
    estimate = None
    if context.shape is not None and len(context.shape) == 3:
        k, s, d = both(kernel), both(strides), both(dilation)
        sizes = tuple(_transpose_length(context.shape[a], k[a], s[a], padding, output_padding, d[a]) for a in (0, 1))
        estimate = _with_channels(sizes, evaluated(filters, context.params))
    names = ("deconv", "convT", "conv_transpose")
    return LayerPlan("Conv2DTranspose", arguments, layer_text(draw, names, texts), "deconv", estimate)


def _draw_pool(draw: Draw, context: Context, keras_class: str, names: tuple[str, ...]) -> LayerPlan:
    pool = draw_window(draw, context, high=4) if draw.chance(0.8) else 2
    strides = draw_step(draw) if draw.chance(0.3) else None
    padding = draw.choice(("valid", "same"))
    texts = [option_text(draw, pair_text(pool), bare=True, compact="k", keywords=("pool_size", "size", "pool"))
             if pool != 2 or draw.chance(0.5) else ""]
    if strides is not None:
        texts.append(option_text(draw, pair_text(strides), compact="s", keywords=("strides", "stride")))
    if padding == "same" or draw.chance(0.3):
        texts.append(draw.choice((padding, f"padding={padding}")))
    arguments = {"pool_size": pool, "strides": strides, "padding": padding}
    estimate = _with_channels(_windowed(context, pool, strides if strides is not None else pool, padding),
                              _channels(context))
    return LayerPlan(keras_class, arguments, layer_text(draw, names, texts), names[0], estimate)


def draw_maxpool(draw: Draw, context: Context) -> LayerPlan:
    return _draw_pool(draw, context, "MaxPooling2D", ("maxpool", "maxpool2d", "max_pool"))


def draw_avgpool(draw: Draw, context: Context) -> LayerPlan:
    return _draw_pool(draw, context, "AveragePooling2D", ("avgpool", "avgpool2d", "avg_pool"))


def _draw_global(draw: Draw, context: Context, keras_class: str, names: tuple[str, ...]) -> LayerPlan:
    keepdims = draw.chance(0.3)
    text = draw.choice(("keepdims", "keepdims=true")) if keepdims else draw.choice(("", "", "keepdims=false"))
    channels = _channels(context)
    estimate = None if channels is None else ((1, 1, channels) if keepdims else (channels,))
    return LayerPlan(keras_class, {"keepdims": keepdims}, layer_text(draw, names, [text]), names[0], estimate)


def draw_gavgpool(draw: Draw, context: Context) -> LayerPlan:
    return _draw_global(draw, context, "GlobalAveragePooling2D", ("gavgpool", "global_avgpool", "gap"))


def draw_gmaxpool(draw: Draw, context: Context) -> LayerPlan:
    return _draw_global(draw, context, "GlobalMaxPooling2D", ("gmaxpool", "global_maxpool", "gmp"))


def draw_dense(draw: Draw, context: Context) -> LayerPlan:
    units = draw_count(draw, context, high=16)
    activation, use_bias = draw_activation(draw), draw.chance(0.8)
    texts = [option_text(draw, count_text(units), bare=True, keywords=("units",)),
             activation_text(draw, activation), bias_text(draw, use_bias)]
    estimate = None if context.shape is None else (*context.shape[:-1], evaluated(units, context.params))
    arguments = {"units": units, "activation": activation, "use_bias": use_bias}
    return LayerPlan("Dense", arguments, layer_text(draw, ("dense", "fc"), texts), "dense", estimate)


def draw_flatten(draw: Draw, context: Context) -> LayerPlan:
    estimate = None if context.shape is None else (math.prod(context.shape),)
    return LayerPlan("Flatten", {}, "flatten", "flatten", estimate)


def draw_reshape(draw: Draw, context: Context) -> LayerPlan:
    size = math.prod(context.shape) if context.shape else 0
    if size < 1:
        size = draw.integer(1, 64)
    divisors = [d for d in range(1, min(size, 64) + 1) if size % d == 0]
    first = draw.choice(divisors)
    target: tuple[int, ...] = draw.choice(((first, size // first), (size,), (first, -1), (-1, first)))
    if draw.chance(0.3) and size // first > 1:
        rest = size // first
        second = draw.choice([d for d in range(1, min(rest, 16) + 1) if rest % d == 0])
        target = (first, second, rest // second)
    if draw.chance(0.1):
        target = (size + 1,)  # a size mismatch, rejected by both
    text = "x".join(str(dim) for dim in target)
    options = [option_text(draw, text, bare=True, keywords=("target_shape", "shape"))]
    return LayerPlan("Reshape", {"target_shape": target}, layer_text(draw, ("reshape",), options), "reshape",
                     _reshape_estimate(size, target))


def _reshape_estimate(size: int, target: tuple[int, ...]) -> Shape | None:
    known = math.prod(dim for dim in target if dim != -1)
    if -1 in target:
        if size % known:
            return None
        return tuple(size // known if dim == -1 else dim for dim in target)
    return target if known == size else None


def _draw_rate(draw: Draw, context: Context) -> float:
    if draw.chance(context.invalid_rate):
        return draw.choice((1.5, -0.25))
    return draw.choice((0.0, 0.1, 0.25, 0.5, 1.0))


def draw_dropout(draw: Draw, context: Context) -> LayerPlan:
    rate = _draw_rate(draw, context)
    options = [option_text(draw, number_text(rate), bare=True, keywords=("rate",))]
    return LayerPlan("Dropout", {"rate": rate}, layer_text(draw, ("dropout",), options), "dropout", context.shape)


def draw_spatialdropout(draw: Draw, context: Context) -> LayerPlan:
    rate = _draw_rate(draw, context)
    options = [option_text(draw, number_text(rate), bare=True, keywords=("rate",))]
    names = ("spatialdropout", "spatial_dropout", "sdropout")
    return LayerPlan("SpatialDropout2D", {"rate": rate}, layer_text(draw, names, options), "spatialdropout",
                     context.shape)


def draw_rescale(draw: Draw, context: Context) -> LayerPlan:
    scale_text, scale = draw.choice((("1/255", 1 / 255), ("2", 2.0), ("0.5", 0.5), ("-1/127.5", -1 / 127.5)))
    texts = [option_text(draw, scale_text, bare=True, keywords=("scale",))]
    offset = 0.0
    if draw.chance(0.4):
        offset_text, offset = draw.choice((("-1", -1.0), ("0.5", 0.5), ("1/2", 0.5)))
        texts.append(f"offset={offset_text}")
    return LayerPlan("Rescaling", {"scale": scale, "offset": offset}, layer_text(draw, ("rescale", "rescaling"), texts),
                     "rescale", context.shape)


def _normalization_options(draw: Draw, arguments: dict) -> list[str]:
    texts = []
    if draw.chance(0.3):
        text, arguments["epsilon"] = draw.choice((("1e-3", 1e-3), ("1.001e-5", 1.001e-5), ("0.01", 0.01)))
        texts.append(draw.choice((f"epsilon={text}", f"eps={text}")))
    for option, flag in (("center", "nocenter"), ("scale", "noscale")):
        arguments[option] = draw.chance(0.8)
        if not arguments[option]:
            texts.append(draw.choice((flag, f"{option}=false")))
        elif draw.chance(0.1):
            texts.append(f"{option}=true")
    return texts


def draw_batchnorm(draw: Draw, context: Context) -> LayerPlan:
    arguments: dict = {}
    texts = _normalization_options(draw, arguments)
    if draw.chance(0.3):
        text, arguments["momentum"] = draw.choice((("0.9", 0.9), ("0.99", 0.99), ("0.997", 0.997)))
        texts.append(f"momentum={text}")
    names = ("batchnorm", "bn", "batch_norm")
    return LayerPlan("BatchNormalization", arguments, layer_text(draw, names, texts), "batchnorm", context.shape)


def draw_layernorm(draw: Draw, context: Context) -> LayerPlan:
    arguments: dict = {}
    texts = _normalization_options(draw, arguments)
    names = ("layernorm", "ln", "layer_norm")
    return LayerPlan("LayerNormalization", arguments, layer_text(draw, names, texts), "layernorm", context.shape)


def _draw_edges(draw: Draw, high: int) -> tuple[str, tuple[tuple[int, int], tuple[int, int]]]:
    form = draw.integer(0, 2)
    if form == 0:
        n = draw.integer(0, high)
        return str(n), ((n, n), (n, n))
    if form == 1:
        h, w = draw.integer(0, high), draw.integer(0, high)
        return f"{h}x{w}", ((h, h), (w, w))
    t, b, l, r = (draw.integer(0, high) for _ in range(4))
    return f"{t}x{b}x{l}x{r}", ((t, b), (l, r))


def draw_zeropad(draw: Draw, context: Context) -> LayerPlan:
    text, edges = _draw_edges(draw, 3) if draw.chance(0.8) else ("", ((1, 1), (1, 1)))
    options = [option_text(draw, text, bare=True, keywords=("padding",)) if text else ""]
    estimate = None
    if context.shape is not None and len(context.shape) == 3:
        estimate = (context.shape[0] + sum(edges[0]), context.shape[1] + sum(edges[1]), context.shape[2])
    names = ("zeropad", "zero_padding", "pad")
    return LayerPlan("ZeroPadding2D", {"padding": edges}, layer_text(draw, names, options), "zeropad", estimate)


def draw_crop(draw: Draw, context: Context) -> LayerPlan:
    height, width = (min(axis, 8) for axis in _sizes(context))
    high = max(0, (min(height, width) - 1) // 2) if not draw.chance(context.invalid_rate) else 4
    text, edges = _draw_edges(draw, high)
    if draw.chance(context.invalid_rate / 2):
        text, edges = "-1", ((-1, -1), (-1, -1))
    options = [option_text(draw, text, bare=True, keywords=("cropping",))]
    estimate = None
    if context.shape is not None and len(context.shape) == 3:
        estimate = (context.shape[0] - sum(edges[0]), context.shape[1] - sum(edges[1]), context.shape[2])
        estimate = estimate if min(estimate[:2]) >= 1 else None
    return LayerPlan("Cropping2D", {"cropping": edges}, layer_text(draw, ("crop", "cropping"), options), "crop",
                     estimate)


def _sizes(context: Context) -> tuple[int, int]:
    if context.shape is not None and len(context.shape) == 3:
        return context.shape[0], context.shape[1]
    return 4, 4


def draw_upsample(draw: Draw, context: Context) -> LayerPlan:
    size = draw_step(draw) if draw.chance(0.7) else 2
    interpolation = draw.choice(INTERPOLATIONS) if draw.chance(0.3) else "nearest"
    texts = [option_text(draw, pair_text(size), bare=True, keywords=("size",)) if size != 2 or draw.chance(0.5)
             else ""]
    if interpolation != "nearest" or draw.chance(0.2):
        texts.append(draw.choice((interpolation, f"interpolation={interpolation}")))
    estimate = None
    if context.shape is not None and len(context.shape) == 3:
        factor = both(size)
        estimate = (context.shape[0] * factor[0], context.shape[1] * factor[1], context.shape[2])
    arguments = {"size": size, "interpolation": interpolation}
    return LayerPlan("UpSampling2D", arguments, layer_text(draw, ("upsample", "upsampling"), texts), "upsample",
                     estimate)


def draw_activation_layer(draw: Draw, context: Context) -> LayerPlan:
    name = draw.choice(sorted(STANDALONE_ACTIVATIONS))
    return LayerPlan("Activation", {"activation": STANDALONE_ACTIVATIONS[name]}, name, name, context.shape)


def draw_leaky_relu(draw: Draw, context: Context) -> LayerPlan:
    slope_text, slope = draw.choice((("0.1", 0.1), ("0.3", 0.3), ("0", 0.0), ("1/5", 0.2)))
    if draw.chance(context.invalid_rate):
        slope_text, slope = "-0.1", -0.1
    options = [option_text(draw, slope_text, bare=True, keywords=("negative_slope", "alpha", "slope"))
               if slope != 0.3 or draw.chance(0.5) else ""]
    return LayerPlan("LeakyReLU", {"negative_slope": slope},
                     layer_text(draw, ("leaky_relu", "leakyrelu"), options), "leaky_relu", context.shape)


def draw_elu(draw: Draw, context: Context) -> LayerPlan:
    alpha_text, alpha = draw.choice((("1", 1.0), ("0.5", 0.5), ("-0.5", -0.5)))
    options = [option_text(draw, alpha_text, bare=True, keywords=("alpha",)) if alpha != 1.0 or draw.chance(0.5)
               else ""]
    return LayerPlan("ELU", {"alpha": alpha}, layer_text(draw, ("elu",), options), "elu", context.shape)


SPATIAL_KINDS: dict[str, Callable[[Draw, Context], LayerPlan]] = {
    "conv": draw_conv, "dwconv": draw_dwconv, "sepconv": draw_sepconv, "deconv": draw_deconv,
    "maxpool": draw_maxpool, "avgpool": draw_avgpool, "gavgpool": draw_gavgpool, "gmaxpool": draw_gmaxpool,
    "spatialdropout": draw_spatialdropout, "zeropad": draw_zeropad, "crop": draw_crop, "upsample": draw_upsample,
}
ANY_RANK_KINDS: dict[str, Callable[[Draw, Context], LayerPlan]] = {
    "dense": draw_dense, "flatten": draw_flatten, "reshape": draw_reshape, "dropout": draw_dropout,
    "rescale": draw_rescale, "batchnorm": draw_batchnorm, "layernorm": draw_layernorm,
    "activation": draw_activation_layer, "leaky_relu": draw_leaky_relu, "elu": draw_elu,
}

# Layers that keep the shape of an image, for residual bodies and branches that must match.
SHAPE_KEEPING = ("batchnorm", "layernorm", "activation", "leaky_relu", "elu", "dropout", "spatialdropout",
                 "rescale")


def draw_layer(draw: Draw, context: Context) -> LayerPlan:
    """Draw any layer that suits the estimated input, or, now and then, one that does not."""
    image = context.shape is not None and len(context.shape) == 3
    if image or draw.chance(context.invalid_rate / 2):
        kinds = {**SPATIAL_KINDS, **ANY_RANK_KINDS} if draw.chance(0.5) else SPATIAL_KINDS
    else:
        kinds = ANY_RANK_KINDS
    return kinds[draw.choice(sorted(kinds))](draw, context)


def draw_same_shape_conv(draw: Draw, context: Context, filters: int | ParamExpr) -> LayerPlan:
    """A `same`-padded stride-1 convolution with the given filters, for bodies whose shape must match."""
    kernel = draw.choice((1, 3, (1, 3), (3, 1)))
    use_bias = draw.chance(0.7)
    texts = [option_text(draw, count_text(filters), bare=True, keywords=("filters",)),
             option_text(draw, pair_text(kernel), compact="k", keywords=("kernel_size", "kernel")),
             draw.choice(("same", "padding=same")), bias_text(draw, use_bias)]
    arguments = {"filters": filters, "kernel_size": kernel, "strides": 1, "dilation_rate": 1, "padding": "same",
                 "activation": None, "use_bias": use_bias}
    shape = context.shape
    estimate = (*shape[:2], evaluated(filters, context.params)) if shape and len(shape) == 3 else None
    return LayerPlan("Conv2D", arguments, layer_text(draw, ("conv", "conv2d"), texts), "conv", estimate)

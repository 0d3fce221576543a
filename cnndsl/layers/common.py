"""Options and rules that several layer kinds share."""

from __future__ import annotations

import math

from cnndsl.errors import ShapeError
from cnndsl.layers.base import AxisFormula, Config, OptionSpec, Shape
from cnndsl.layers.formulas import Formula, named, product
from cnndsl.layers.shape_rules import dilated_kernel, format_size, window_output_length
from cnndsl.layers.values import Boolean, Choice, Pair
from cnndsl.layers.windows import Window, same_pad_before, window_axis

# Activation names that Keras 3 resolves with keras.activations.get().
ACTIVATIONS = (
    "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "silu", "swish",
    "sigmoid", "hard_sigmoid", "hard_silu", "hard_swish", "tanh", "softmax",
    "log_softmax", "softplus", "softsign", "mish", "exponential", "linear",
)

PADDINGS = ("valid", "same")


def activation_option() -> OptionSpec:
    return OptionSpec(
        "activation", Choice(ACTIVATIONS), default=None, help="activation applied to the output",
        flags={name: name for name in ACTIVATIONS},
    )


def padding_option() -> OptionSpec:
    return OptionSpec(
        "padding", Choice(PADDINGS), default="valid", help="`valid` (no padding) or `same`",
        flags={name: name for name in PADDINGS},
    )


def strides_option(default=(1, 1), help: str = "step of the window") -> OptionSpec:
    return OptionSpec("strides", Pair(), default=default, help=help, aliases=("stride",), prefix="s")


def kernel_option(positional: bool = False) -> OptionSpec:
    return OptionSpec(
        "kernel_size", Pair(), help="kernel height and width", aliases=("kernel",), prefix="k",
        positional=positional, keras_positional=True,
    )


def dilation_option() -> OptionSpec:
    return OptionSpec(
        "dilation_rate", Pair(), default=(1, 1), help="spacing between kernel taps",
        aliases=("dilation",), prefix="d",
    )


def bias_option() -> OptionSpec:
    return OptionSpec(
        "use_bias", Boolean(), default=True, help="add a bias vector", aliases=("bias",),
        flags={"nobias": False, "bias": True},
    )


def channels(shape: Shape) -> int:
    return shape[-1]


def windowed_output(config: Config, shape: Shape, window_key: str, layer: str) -> tuple[int, int]:
    """Return the (height, width) after a window, raising ShapeError when it would vanish.

    Keras raises "Computed output size would be zero or negative" in that case;
    the message here names the window, the input and the fix instead.
    """
    window = config[window_key]
    strides = config["strides"] if config.get("strides") is not None else window
    dilation = config.get("dilation_rate", (1, 1))
    padding = config["padding"]

    sizes = tuple(
        window_output_length(shape[axis], window[axis], strides[axis], padding, dilation[axis])
        for axis in (0, 1)
    )
    if min(sizes) >= 1:
        return sizes

    extent = tuple(dilated_kernel(window[axis], dilation[axis]) for axis in (0, 1))
    prefix = "k" if window_key == "kernel_size" else ""
    what = f"{layer} {prefix}{compact_pair(window)}"
    if dilation != (1, 1):
        what += f" d{compact_pair(dilation)} (extent {format_size(extent)})"
    raise ShapeError(
        f"{what} needs an input of at least {format_size(extent)} but receives {format_size(shape[:2])}",
        "use `same` padding or a smaller window, or remove a downsampling layer before it",
    )


def count(number: int, noun: str) -> str:
    """Write `1 filter`, `6 filters`."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def label_parts(*parts: str | None) -> str:
    return ", ".join(part for part in parts if part)


def compact_pair(pair: tuple[int, int]) -> str:
    """Write (2, 2) as 2 and (1, 2) as 1x2, as the compact options do."""
    return str(pair[0]) if pair[0] == pair[1] else format_size(pair)


def describe_window(config: Config, key: str) -> str:
    """Describe a window for diagram labels: `5x5`, `3x3 s2`, `3x3 d2`."""
    parts = [format_size(config[key])]
    strides = config.get("strides") or config[key]
    if strides != (1, 1):
        parts.append(f"s{compact_pair(strides)}")
    dilation = config.get("dilation_rate", (1, 1))
    if dilation != (1, 1):
        parts.append(f"d{compact_pair(dilation)}")
    return " ".join(parts)


def _window_geometry(config: Config, key: str) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """Return (window, strides, dilation); pooling strides default to the window."""
    window = config[key]
    strides = config["strides"] if config.get("strides") is not None else window
    return window, strides, config.get("dilation_rate", (1, 1))


def window_receptive_field(config: Config, shape: Shape, key: str) -> Window:
    """Return the (height, width) maps of a convolution or pooling window, `same` padding included."""
    window, strides, dilation = _window_geometry(config, key)
    maps = []
    for axis in (0, 1):
        pad_before = 0
        if config["padding"] == "same":
            pad_before = same_pad_before(shape[axis], window[axis], strides[axis], dilation[axis])
        maps.append(window_axis(window[axis], strides[axis], dilation[axis], pad_before))
    return (maps[0], maps[1])


def explain_window(config: Config, shape: Shape, key: str) -> list[AxisFormula]:
    """Write the output height and width of a window as Keras computes them.

    valid: floor((28 - 5) / 1) + 1 = 24; same: ceil(28 / 2) = 14. A dilated
    window first gets its extent: (3 - 1) x 2 + 1 = 5.
    """
    window, strides, dilation = _window_geometry(config, key)
    extents: list[AxisFormula] = []
    sizes: list[AxisFormula] = []
    for axis, name in ((0, "height"), (1, "width")):
        length, stride = shape[axis], strides[axis]
        extent = dilated_kernel(window[axis], dilation[axis])
        if config["padding"] == "same":
            sizes.append((name, named(f"ceil({length:,} / {stride})", math.ceil(length / stride))))
            continue
        if dilation[axis] != 1:
            extents.append((f"{name} kernel extent", named(f"({window[axis]} - 1) x {dilation[axis]} + 1", extent)))
        size = window_output_length(length, window[axis], stride, "valid", dilation[axis])
        sizes.append((name, named(f"floor(({length:,} - {extent}) / {stride}) + 1", size)))
    return extents + sizes


def spatial_positions(output: Shape) -> Formula:
    """Return height x width of an image output, the number of window positions."""
    return product(output[0], output[1])

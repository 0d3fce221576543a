"""Options and rules that several layer kinds share."""

from __future__ import annotations

from cnndsl.errors import ShapeError
from cnndsl.layers.base import Config, OptionSpec, Shape
from cnndsl.layers.shape_rules import dilated_kernel, format_size, window_output_length
from cnndsl.layers.values import Boolean, Choice, Pair

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

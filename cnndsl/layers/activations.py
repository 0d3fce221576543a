"""Standalone activation layer kinds: `relu`, `leaky_relu 0.1`, `softmax`, ...

Parameter-free activations become keras.layers.Activation("name"). The two
with a parameter use their own Keras layers, so the value is kept: `leaky_relu`
is keras.layers.LeakyReLU and `elu` is keras.layers.ELU. The layer's default
slope is 0.3, while the function keras.activations.leaky_relu, which
`conv ... leaky_relu` uses, defaults to 0.2 (Keras 3.15).
"""

from __future__ import annotations

from cnndsl.layers.base import LayerKind, OptionSpec
from cnndsl.layers.values import Number

_PLAIN = (
    ("relu", ()), ("relu6", ()), ("selu", ()), ("gelu", ()), ("silu", ("swish",)), ("sigmoid", ()),
    ("hard_sigmoid", ()), ("hard_silu", ("hard_swish",)), ("tanh", ()), ("softmax", ()),
    ("softplus", ()), ("mish", ()),
)


def _plain(name: str, aliases: tuple[str, ...]) -> LayerKind:
    return LayerKind(keyword=name, aliases=aliases, keras_class="Activation", summary=f"{name} activation",
                     fixed={"activation": name})


LEAKY_RELU = LayerKind(
    keyword="leaky_relu",
    aliases=("leakyrelu",),
    keras_class="LeakyReLU",
    summary="leaky ReLU: x for x >= 0, slope * x below",
    options=(OptionSpec("negative_slope", Number(minimum=0.0), default=0.3, help="slope below zero",
                        aliases=("alpha", "slope"), positional=True),),
    label=lambda config: f"slope {float(config['negative_slope']):g}",
)

ELU = LayerKind(
    keyword="elu",
    keras_class="ELU",
    summary="exponential linear unit",
    options=(OptionSpec("alpha", Number(), default=1.0, help="value approached for large negative inputs",
                        positional=True),),
    label=lambda config: f"alpha {float(config['alpha']):g}" if config["alpha"] != 1.0 else "",
)

KINDS = (*(_plain(name, aliases) for name, aliases in _PLAIN), LEAKY_RELU, ELU)

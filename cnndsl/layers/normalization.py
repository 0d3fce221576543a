"""Normalization layer kinds: batch and layer normalization over the channel axis."""

from __future__ import annotations

from cnndsl.layers.base import Config, LayerKind, OptionSpec, ParamsFormula, Shape
from cnndsl.layers.formulas import ZERO, product
from cnndsl.layers.common import label_parts
from cnndsl.layers.values import Boolean, Number


def _affine_options(momentum: bool) -> tuple[OptionSpec, ...]:
    options = []
    if momentum:
        options.append(OptionSpec("momentum", Number(0.0, 1.0), default=0.99,
                                  help="momentum of the moving mean and variance"))
    epsilon = 1e-3
    options += [
        OptionSpec("epsilon", Number(minimum=0.0), default=epsilon, help="added to the variance",
                   aliases=("eps",)),
        OptionSpec("center", Boolean(), default=True, help="learn an offset (beta)", flags={"nocenter": False}),
        OptionSpec("scale", Boolean(), default=True, help="learn a scale (gamma)", flags={"noscale": False}),
    ]
    return tuple(options)


def _affine_weights(config: Config, shape: Shape) -> int:
    return shape[-1] * (int(config["center"]) + int(config["scale"]))


def _batchnorm_params(config: Config, shape: Shape) -> tuple[int, int]:
    # The moving mean and the moving variance are updated by training but not
    # by gradients, so Keras counts them as non-trainable.
    return (_affine_weights(config, shape), 2 * shape[-1])


def _affine_vectors(config: Config) -> int:
    return int(config["center"]) + int(config["scale"])


def _explain_batchnorm_params(config: Config, shape: Shape) -> ParamsFormula:
    # beta and gamma are trained; the moving mean and variance are not.
    return product(_affine_vectors(config) + 2, shape[-1]), product(2, shape[-1])


def _explain_layernorm_params(config: Config, shape: Shape) -> ParamsFormula:
    return product(_affine_vectors(config), shape[-1]), ZERO


def _label(config: Config) -> str:
    return label_parts(None if config["center"] else "no center", None if config["scale"] else "no scale")


BATCHNORM = LayerKind(
    keyword="batchnorm",
    aliases=("bn", "batch_norm"),
    keras_class="BatchNormalization",
    summary="batch normalization over the last axis",
    options=_affine_options(momentum=True),
    params=_batchnorm_params,
    label=_label,
    explain_params=_explain_batchnorm_params,
)

LAYERNORM = LayerKind(
    keyword="layernorm",
    aliases=("ln", "layer_norm"),
    keras_class="LayerNormalization",
    summary="layer normalization over the last axis",
    options=_affine_options(momentum=False),
    params=lambda config, shape: (_affine_weights(config, shape), 0),
    label=_label,
    explain_params=_explain_layernorm_params,
)

KINDS = (BATCHNORM, LAYERNORM)

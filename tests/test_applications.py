"""Published architectures in examples/ against the Keras models they reproduce.

Each spec is compared with keras.applications (built with weights=None) or,
for the U-Net, with a functional model written here with keras.layers. Two
models match when their total, trainable and non-trainable parameter counts,
their output shape, and the sorted (class, output shape, parameter count) of
every layer with weights are equal. The static checker's numbers are compared
with the same reference, so they are checked without trusting the back end.
Beyond that, the built model must have the same layers (class and output
shape) and the same options on every layer with weights (strides, padding,
epsilon, ...), because several options change no parameter count.

Every model is built once per module and reduced to plain numbers at once,
so one Keras model is alive at a time.
"""

from __future__ import annotations

import gc
import math
from dataclasses import dataclass
from typing import Any, Callable

import pytest

from cnndsl.graph import Network
from cnndsl.pipeline import analyse_text
from conftest import EXAMPLES

WEIGHTED_CLASSES = frozenset({
    "Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Conv2DTranspose", "Dense", "BatchNormalization",
})

# Options compared on every layer with weights. Some, such as epsilon,
# momentum or the padding of a 1x1 convolution, change neither the parameter
# count nor the output shape, so only this comparison catches them.
COMPARED_OPTIONS = (
    "filters", "units", "kernel_size", "strides", "padding", "dilation_rate", "depth_multiplier",
    "output_padding", "use_bias", "activation", "epsilon", "momentum", "center", "scale",
)

# Keras applications write ReLU(6.0) where a spec writes `relu6`, which
# becomes Activation("relu6"). Both compute min(max(x, 0), 6).
EQUIVALENT_CLASSES = {"ReLU": "Activation"}

WeightedLayer = tuple[str, tuple[int | None, ...], int]
"""(Keras class name, output shape without the batch axis, parameter count)."""


@dataclass(frozen=True)
class ModelFacts:
    """The numbers by which two models are compared."""

    total_params: int
    trainable_params: int
    non_trainable_params: int
    output_shape: tuple[int | None, ...]
    weighted_layers: list[WeightedLayer]


@dataclass(frozen=True)
class KerasStructure:
    """What only a built Keras model shows: every layer, and the options of those with weights."""

    layers: list[tuple[str, tuple[int | None, ...]]]
    weighted_options: list[tuple[str, tuple[tuple[str, Any], ...]]]


@dataclass(frozen=True)
class Case:
    """One spec in examples/, the Keras model it reproduces and that model's parameter counts."""

    spec: str
    reference: Callable[[Any], Any]
    total_params: int
    non_trainable_params: int


@dataclass(frozen=True)
class Comparison:
    checker: ModelFacts
    built: ModelFacts
    reference: ModelFacts
    built_structure: KerasStructure
    reference_structure: KerasStructure
    warnings: list[str]
    layer_names: list[str]


def _unet_reference(keras):
    """Build the U-Net of examples/unet.cnn directly with keras.layers."""
    layers = keras.layers

    def double_conv(x, filters):
        for _ in range(2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization()(x)
            x = layers.Activation("relu")(x)
        return x

    inputs = keras.Input(shape=(128, 128, 1))
    x = inputs
    skips = []
    for filters in (16, 32, 64, 128):
        x = double_conv(x, filters)
        skips.append(x)
        x = layers.MaxPooling2D(2)(x)

    x = double_conv(x, 256)
    x = layers.Dropout(0.5)(x)

    for filters, skip in zip((128, 64, 32, 16), reversed(skips)):
        x = layers.Conv2DTranspose(filters, 2, strides=2, padding="same")(x)
        x = layers.Concatenate()([x, skip])
        x = double_conv(x, filters)

    outputs = layers.Conv2D(1, 1, activation="sigmoid")(x)
    return keras.Model(inputs, outputs)


# Parameter counts of the references: keras.applications of Keras 3.15 with
# weights=None, and for the U-Net the sum over its layers.
CASES = {
    "resnet50": Case("resnet50.cnn", lambda keras: keras.applications.ResNet50(weights=None),
                     total_params=25_636_712, non_trainable_params=53_120),
    "mobilenet": Case("mobilenet.cnn", lambda keras: keras.applications.MobileNet(weights=None),
                      total_params=4_253_864, non_trainable_params=21_888),
    "mobilenet_v2": Case("mobilenet_v2.cnn", lambda keras: keras.applications.MobileNetV2(weights=None),
                         total_params=3_538_984, non_trainable_params=34_112),
    "inception_v3": Case("inception_v3.cnn", lambda keras: keras.applications.InceptionV3(weights=None),
                         total_params=23_851_784, non_trainable_params=34_432),
    "unet": Case("unet.cnn", _unet_reference, total_params=1_945_233, non_trainable_params=2_944),
}


def _weight_count(weights) -> int:
    return sum(math.prod(weight.shape) for weight in weights)


def _keras_facts(model) -> ModelFacts:
    weighted = [
        (type(layer).__name__, tuple(layer.output.shape[1:]), layer.count_params())
        for layer in model.layers if type(layer).__name__ in WEIGHTED_CLASSES
    ]
    trainable = _weight_count(model.trainable_weights)
    non_trainable = _weight_count(model.non_trainable_weights)
    return ModelFacts(
        total_params=model.count_params(),
        trainable_params=trainable,
        non_trainable_params=non_trainable,
        output_shape=tuple(model.output.shape[1:]),
        weighted_layers=sorted(weighted, key=repr),
    )


def _option_value(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _keras_structure(model) -> KerasStructure:
    layers = [
        (EQUIVALENT_CLASSES.get(type(layer).__name__, type(layer).__name__), tuple(layer.output.shape[1:]))
        for layer in model.layers
    ]
    options = []
    for layer in model.layers:
        if type(layer).__name__ not in WEIGHTED_CLASSES:
            continue
        config = layer.get_config()
        compared = tuple((key, _option_value(config[key])) for key in COMPARED_OPTIONS if key in config)
        options.append((type(layer).__name__, compared))
    return KerasStructure(layers=sorted(layers, key=repr), weighted_options=sorted(options, key=repr))


def _checker_facts(network: Network) -> ModelFacts:
    weighted = [
        (layer.kind.keras_class, tuple(layer.output_shape), layer.params)
        for layer in network.layers if layer.kind.keras_class in WEIGHTED_CLASSES
    ]
    return ModelFacts(
        total_params=network.total_params,
        trainable_params=network.trainable_params,
        non_trainable_params=network.non_trainable_params,
        output_shape=tuple(network.output_shape(network.outputs[0])),
        weighted_layers=sorted(weighted, key=repr),
    )


def _release(keras, model) -> None:
    del model
    keras.backend.clear_session()
    gc.collect()


@pytest.fixture(scope="module", params=sorted(CASES))
def comparison(request) -> Comparison:
    """Check, build and measure one spec and its reference; keep only the numbers."""
    from cnndsl.backends.keras_backend import build_model, import_keras

    keras = import_keras()
    case = CASES[request.param]
    path = EXAMPLES / case.spec
    checked = analyse_text(path.read_text(), str(path))

    built = build_model(checked.network)
    built_facts = _keras_facts(built)
    built_structure = _keras_structure(built)
    _release(keras, built)

    reference = case.reference(keras)
    reference_facts = _keras_facts(reference)
    reference_structure = _keras_structure(reference)
    _release(keras, reference)

    return Comparison(
        checker=_checker_facts(checked.network),
        built=built_facts,
        reference=reference_facts,
        built_structure=built_structure,
        reference_structure=reference_structure,
        warnings=[diagnostic.message for diagnostic in checked.warnings],
        layer_names=[layer.name for layer in checked.network.layers],
    )


@pytest.fixture
def case(comparison, request) -> Case:
    return CASES[request.node.callspec.params["comparison"]]


# ---- The reference itself ------------------------------------------------------

def test_reference_total_params_as_published(comparison, case):
    assert comparison.reference.total_params == case.total_params


def test_reference_non_trainable_params_as_published(comparison, case):
    assert comparison.reference.non_trainable_params == case.non_trainable_params


# ---- The spec checks cleanly ------------------------------------------------------

def test_spec_checks_without_warnings(comparison):
    assert comparison.warnings == []


# ---- Static checker against the reference -----------------------------------------

def test_checker_total_params_match_reference(comparison):
    assert comparison.checker.total_params == comparison.reference.total_params


def test_checker_trainable_params_match_reference(comparison):
    assert comparison.checker.trainable_params == comparison.reference.trainable_params


def test_checker_non_trainable_params_match_reference(comparison):
    assert comparison.checker.non_trainable_params == comparison.reference.non_trainable_params


def test_checker_output_shape_matches_reference(comparison):
    assert comparison.checker.output_shape == comparison.reference.output_shape


def test_checker_weighted_layers_match_reference(comparison):
    assert comparison.checker.weighted_layers == comparison.reference.weighted_layers


# ---- Built Keras model against the reference --------------------------------------

def test_built_total_params_match_reference(comparison):
    assert comparison.built.total_params == comparison.reference.total_params


def test_built_trainable_params_match_reference(comparison):
    assert comparison.built.trainable_params == comparison.reference.trainable_params


def test_built_non_trainable_params_match_reference(comparison):
    assert comparison.built.non_trainable_params == comparison.reference.non_trainable_params


def test_built_output_shape_matches_reference(comparison):
    assert comparison.built.output_shape == comparison.reference.output_shape


def test_built_weighted_layers_match_reference(comparison):
    assert comparison.built.weighted_layers == comparison.reference.weighted_layers


def test_built_layers_match_reference(comparison):
    assert comparison.built_structure.layers == comparison.reference_structure.layers


def test_built_layer_options_match_reference(comparison):
    assert comparison.built_structure.weighted_options == comparison.reference_structure.weighted_options


# ---- Layer names of nested blocks --------------------------------------------------

@pytest.mark.parametrize("comparison", ["unet"], indirect=True)
def test_nested_block_layers_prefixed_once(comparison):
    # `up(16, level1, name=up1)` calls `double_conv`, whose instance is up1_double_conv1.
    assert "up1_double_conv1_conv1" in comparison.layer_names
    assert not any(name.startswith("up1_up1_") for name in comparison.layer_names)

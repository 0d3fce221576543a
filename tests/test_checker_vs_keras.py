"""The static checker against real Keras: every shape and weight count must agree.

Each accepted spec is checked with `analyse_text` and then built with the Keras
back end. For every layer, the checker's output shape (batch axis None) and its
trainable and non-trainable weight counts must equal what Keras reports. Each
rejected spec must fail in the checker with a source position, and the same
layers, constructed here by hand, must make Keras raise as well.

The second half replays Keras edge cases from public bug reports, translated
into specs in tests/cases/keras_edge_cases.json together with the values that
Keras 3.15 produced for them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from cnndsl.backends.keras_backend import build_model, import_keras
from cnndsl.errors import CnnDslError, Severity
from cnndsl.pipeline import analyse_text

keras = import_keras()
layers = keras.layers

EDGE_CASES_PATH = Path(__file__).resolve().parent / "cases" / "keras_edge_cases.json"


@pytest.fixture(autouse=True)
def clear_keras_session():
    """Free the models and layer names of each test before the next one."""
    yield
    keras.backend.clear_session()


# ---- Helpers ----------------------------------------------------------------


def spec(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def keras_weight_counts(layer) -> tuple[int, int]:
    """Return the numbers of trainable and non-trainable weight values of a Keras layer."""
    trainable = sum(math.prod(weight.shape) for weight in layer.trainable_weights)
    non_trainable = sum(math.prod(weight.shape) for weight in layer.non_trainable_weights)
    return trainable, non_trainable


def assert_checker_matches_keras(network, model) -> None:
    """Compare every layer of a checked network with the Keras model built from it."""
    built_names = [layer.name for layer in model.layers if not isinstance(layer, layers.InputLayer)]
    assert built_names == [node.name for node in network.layers], "layer names and order"

    for node in network.layers:
        layer = model.get_layer(node.name)
        trainable, non_trainable = keras_weight_counts(layer)
        assert (None, *node.output_shape) == tuple(layer.output.shape), f"output shape of {node.name}"
        assert node.trainable_params == trainable, f"trainable weights of {node.name}"
        assert node.non_trainable_params == non_trainable, f"non-trainable weights of {node.name}"

    trainable, non_trainable = keras_weight_counts(model)
    assert network.trainable_params == trainable, "total trainable weights"
    assert network.non_trainable_params == non_trainable, "total non-trainable weights"
    assert network.total_params == model.count_params(), "total parameters"


def apply_layers(input_shape: tuple[int, ...], *keras_layers) -> None:
    """Call Keras layers in a chain on a symbolic input, as a Sequential model would."""
    tensor = keras.Input(shape=input_shape)
    for layer in keras_layers:
        tensor = layer(tensor)


def first_error_position(text: str) -> tuple[int, int]:
    with pytest.raises(CnnDslError) as raised:
        analyse_text(text)
    errors = raised.value.errors
    assert errors, "CnnDslError carries no error"
    span = errors[0].span
    assert span is not None, f"error without a position: {errors[0].message}"
    return span.line, span.column


# ---- Specs that Keras accepts -----------------------------------------------


def accepted(case_id: str, *lines: str):
    return pytest.param(spec(*lines), id=case_id)


ACCEPTED = [
    # Padding and strides on odd sizes: `same` gives ceil(n / s), `valid` floors.
    accepted("conv-same-7x7-k3-s2", "input 7x7x3", "conv 8 k3 s2 same"),
    accepted("conv-valid-7x7-k3-s2", "input 7x7x3", "conv 8 k3 s2"),
    accepted("conv-same-28x28-k5-s3", "input 28x28x1", "conv 4 k5 s3 same"),
    accepted("conv-valid-28x28-k5-s3", "input 28x28x1", "conv 4 k5 s3"),
    accepted("conv-same-5x5-k2-s2", "input 5x5x2", "conv 3 k2 s2 same"),
    accepted("conv-valid-5x5-k2-s2", "input 5x5x2", "conv 3 k2 s2"),
    accepted("conv-same-even-kernel", "input 6x6x2", "conv 3 k4 same"),
    accepted("conv-same-kernel-larger-than-input", "input 2x2x1", "conv 4 k5 same"),
    accepted("conv-valid-kernel-equals-input", "input 5x5x1", "conv 2 k5"),
    accepted("conv-nobias", "input 6x6x3", "conv 4 k3 nobias"),
    # Dilation.
    accepted("conv-valid-d2", "input 9x9x2", "conv 4 k3 d2"),
    accepted("conv-same-d2", "input 9x9x2", "conv 4 k3 d2 same"),
    accepted("conv-valid-d3", "input 10x10x2", "conv 4 k3 d3"),
    accepted("conv-same-d3-odd-input", "input 11x11x2", "conv 4 k3 d3 same"),
    accepted("conv-valid-d2x3", "input 12x12x1", "conv 2 k3 d2x3"),
    # Non-square kernels and strides.
    accepted("conv-valid-k3x5", "input 11x13x2", "conv 4 k3x5"),
    accepted("conv-same-k1x7", "input 9x9x2", "conv 4 k1x7 same"),
    accepted("conv-valid-k1x7", "input 9x9x2", "conv 4 k1x7"),
    accepted("conv-valid-s1x2", "input 9x10x2", "conv 4 k3 s1x2"),
    accepted("conv-same-s1x2-odd-input", "input 9x11x2", "conv 4 k3 s1x2 same"),
    accepted("conv-same-k3x5-s2x3", "input 13x17x1", "conv 2 k3x5 s2x3 same"),
    # Pooling: strides default to the pool size, and odd sizes floor.
    accepted("maxpool-default-strides-odd-input", "input 7x7x3", "maxpool 2"),
    accepted("maxpool-3-default-strides", "input 10x10x1", "maxpool 3"),
    accepted("avgpool-default-strides-9x11", "input 9x11x2", "avgpool 2"),
    accepted("maxpool-explicit-s1", "input 5x5x1", "maxpool 2 s1"),
    accepted("maxpool-window-equals-input", "input 3x3x1", "maxpool 3"),
    accepted("maxpool-2x3-window", "input 7x9x1", "maxpool 2x3"),
    accepted("maxpool-same-odd-input", "input 7x7x2", "maxpool 2 same"),
    accepted("avgpool-same-k3-s2", "input 9x9x2", "avgpool 3 s2 same"),
    accepted("maxpool-same-s1x2", "input 7x7x1", "maxpool 3 s1x2 same"),
    accepted("avgpool-1x1-s2", "input 43x43x8", "avgpool 1 s2"),
    # Dense acts on the last axis only.
    accepted("dense-on-rank-4", "input 4x4x3", "dense 5"),
    accepted("dense-after-flatten", "input 4x4x3", "flatten", "dense 5 relu"),
    accepted("dense-nobias", "input 12", "dense 4 nobias"),
    # Depthwise and separable convolutions.
    accepted("dwconv-m1", "input 9x9x4", "dwconv 3"),
    accepted("dwconv-m2", "input 9x9x4", "dwconv 3 m2"),
    accepted("dwconv-m3-s2-same-nobias", "input 9x9x4", "dwconv 5 m3 s2 same nobias"),
    accepted("dwconv-m2-nobias", "input 8x8x3", "dwconv 3 m2 nobias"),
    accepted("dwconv-k3x5-d2", "input 12x12x3", "dwconv k3x5 d2"),
    accepted("dwconv-s2-d2", "input 14x14x8", "dwconv 3 s2 d2"),
    accepted("sepconv-m2", "input 9x9x4", "sepconv 8 k3 m2"),
    accepted("sepconv-nobias", "input 9x9x4", "sepconv 8 k3 nobias"),
    accepted("sepconv-m2-nobias-s2-same", "input 9x9x4", "sepconv 8 k3 m2 nobias s2 same"),
    accepted("sepconv-s3-d2", "input 15x15x8", "sepconv 4 k3 s3 d2"),
    # Normalization: the moving mean and variance are non-trainable.
    accepted("batchnorm-default", "input 6x6x5", "batchnorm"),
    accepted("batchnorm-nocenter", "input 6x6x5", "batchnorm nocenter"),
    accepted("batchnorm-noscale", "input 6x6x5", "batchnorm noscale"),
    accepted("batchnorm-nocenter-noscale", "input 6x6x5", "batchnorm nocenter noscale"),
    accepted("batchnorm-on-vector", "input 10", "batchnorm"),
    accepted("layernorm-default", "input 6x6x5", "layernorm"),
    accepted("layernorm-nocenter", "input 6x6x5", "layernorm nocenter"),
    accepted("layernorm-noscale", "input 6x6x5", "layernorm noscale"),
    accepted("layernorm-on-vector", "input 10", "layernorm"),
    # Transposed convolution output sizes.
    accepted("deconv-valid-s1-k3", "input 5x5x2", "deconv 4 k3"),
    accepted("deconv-same-s1-k4", "input 5x5x2", "deconv 4 k4 same"),
    accepted("deconv-valid-s2-k3", "input 5x5x2", "deconv 4 k3 s2"),
    accepted("deconv-same-s2-k3", "input 5x5x2", "deconv 4 k3 s2 same"),
    accepted("deconv-valid-s2-k4", "input 5x5x2", "deconv 4 k4 s2"),
    accepted("deconv-same-s2-k4", "input 5x5x2", "deconv 4 k4 s2 same"),
    accepted("deconv-valid-s3-k3", "input 5x5x2", "deconv 4 k3 s3"),
    accepted("deconv-valid-s3-k2-kernel-below-stride", "input 5x5x2", "deconv 4 k2 s3"),
    accepted("deconv-same-s3-k4", "input 5x5x2", "deconv 4 k4 s3 same"),
    accepted("deconv-same-s1-op0", "input 5x5x2", "deconv 4 k3 same op0"),
    accepted("deconv-valid-s2-op0", "input 5x5x2", "deconv 4 k3 s2 op0"),
    accepted("deconv-valid-s2-op1", "input 5x5x2", "deconv 4 k3 s2 op1"),
    accepted("deconv-same-s2-k3-op0", "input 5x5x2", "deconv 4 k3 s2 same op0"),
    accepted("deconv-same-s2-k3-op1", "input 5x5x2", "deconv 4 k3 s2 same op1"),
    accepted("deconv-same-s2-k4-op1", "input 5x5x2", "deconv 4 k4 s2 same op1"),
    accepted("deconv-same-s3-k4-op2", "input 5x5x2", "deconv 4 k4 s3 same op2"),
    accepted("deconv-valid-s3-k5-op2", "input 5x5x2", "deconv 4 k5 s3 op2"),
    accepted("deconv-valid-d2", "input 5x5x2", "deconv 4 k3 d2"),
    accepted("deconv-same-d2", "input 5x5x2", "deconv 4 k3 d2 same"),
    accepted("deconv-valid-d2-op0", "input 5x5x2", "deconv 4 k3 d2 op0"),
    accepted("deconv-same-k3x4-s1x2-op0x1", "input 5x6x2", "deconv 4 k3x4 s1x2 same op0x1"),
    accepted("deconv-nobias", "input 5x5x2", "deconv 4 k3 s2 nobias"),
    # Zero padding, cropping and upsampling.
    accepted("zeropad-default", "input 5x5x2", "zeropad"),
    accepted("zeropad-2x3", "input 5x5x2", "zeropad 2x3"),
    accepted("zeropad-bottom-right", "input 109x109x2", "zeropad 0x1x0x1"),
    accepted("zeropad-four-sides", "input 5x5x2", "zeropad 1x2x3x4"),
    accepted("crop-1", "input 8x9x2", "crop 1"),
    accepted("crop-1x2", "input 8x9x2", "crop 1x2"),
    accepted("crop-four-sides", "input 8x9x2", "crop 0x1x2x3"),
    accepted("crop-top-and-right", "input 8x9x2", "crop 3x0x0x2"),
    accepted("upsample-default", "input 5x7x4", "upsample"),
    accepted("upsample-2x3", "input 5x7x4", "upsample 2x3"),
    accepted("upsample-3-bilinear", "input 5x7x4", "upsample 3 bilinear"),
    # Reshape, flatten and global pooling.
    accepted("reshape-infer-last", "input 4x4x2", "reshape 8x-1"),
    accepted("reshape-infer-first", "input 4x4x2", "reshape -1x8"),
    accepted("reshape-vector-to-image", "input 32", "reshape 4x4x2"),
    accepted("reshape-image-to-vector", "input 4x4x2", "reshape 32"),
    accepted("flatten-image", "input 5x7x3", "flatten"),
    accepted("gavgpool", "input 6x5x7", "gavgpool"),
    accepted("gmaxpool", "input 6x5x7", "gmaxpool"),
    accepted("gavgpool-keepdims", "input 6x5x7", "gavgpool keepdims"),
    accepted("gmaxpool-keepdims", "input 6x5x7", "gmaxpool keepdims"),
    # Layers without weights.
    accepted("rescale-ratio", "input 4x4x3", "rescale 1/255"),
    accepted("rescale-offset", "input 4x4x3", "rescale 2 offset=-1"),
    accepted("dropout-and-spatialdropout", "input 6x6x3", "spatialdropout 0.2", "flatten", "dropout 0.5"),
    accepted("dropout-rate-1", "input 10", "dropout 1"),
    accepted("activation-layers", "input 6x6x3", "relu", "leaky_relu 0.1", "elu", "softmax"),
    # Whole chains.
    accepted("lenet-chain", "input 28x28x1", "conv 6 k5 same relu > maxpool 2 > conv 16 k5 relu > maxpool 2",
             "flatten > dense 120 relu > dense 84 relu > dense 10 softmax"),
    accepted("mobilenet-style-chain", "input 33x33x3", "conv 8 k3 s2 same nobias > batchnorm > relu6",
             "dwconv 3 same nobias > batchnorm > relu > conv 16 k1", "sepconv 24 k3 s2 > gavgpool keepdims",
             "flatten > dropout 0.2 > dense 10 softmax"),
    accepted("autoencoder-chain", "input 25x25x1", "conv 8 k3 s2 same > conv 8 k3 s2 same > conv 8 k3 s2 same",
             "deconv 8 k3 s2 same op0 > deconv 8 k3 s2 same op0 > deconv 1 k3 s2 same op0"),
]


@pytest.mark.parametrize("text", ACCEPTED)
def test_checker_matches_keras_per_layer(text):
    checked = analyse_text(text)
    model = build_model(checked.network)

    assert_checker_matches_keras(checked.network, model)


def test_dense_on_image_warns_at_layer():
    checked = analyse_text(spec("input 4x4x3", "dense 5"))
    warnings = [warning for warning in checked.warnings if "dense" in warning.message]

    assert len(warnings) == 1
    assert warnings[0].severity is Severity.WARNING
    assert warnings[0].span is not None
    assert (warnings[0].span.line, warnings[0].span.column) == (2, 1)


def test_dense_on_vector_does_not_warn():
    checked = analyse_text(spec("input 48", "dense 5"))

    assert checked.warnings == []


# ---- Specs that Keras rejects -----------------------------------------------


def rejected(case_id: str, text: str, position: tuple[int, int], build_in_keras):
    """A spec the checker must reject at `position`, and the same layers for Keras."""
    return pytest.param(text, position, build_in_keras, id=case_id)


REJECTED = [
    rejected("conv-kernel-larger-than-input", spec("input 4x4x1", "conv 8 k5"), (2, 1),
             lambda: apply_layers((4, 4, 1), layers.Conv2D(8, 5))),
    rejected("conv-kernel-larger-on-one-axis", spec("input 8x4x1", "conv 8 k3x5"), (2, 1),
             lambda: apply_layers((8, 4, 1), layers.Conv2D(8, (3, 5)))),
    rejected("conv-dilated-kernel-larger-than-input", spec("input 6x6x1", "conv 8 k3 d3"), (2, 1),
             lambda: apply_layers((6, 6, 1), layers.Conv2D(8, 3, dilation_rate=3))),
    rejected("conv-chain-shrinks-to-nothing", spec("input 6x6x1", "conv 4 k3 s2", "conv 4 k3"), (3, 1),
             lambda: apply_layers((6, 6, 1), layers.Conv2D(4, 3, strides=2), layers.Conv2D(4, 3))),
    rejected("maxpool-window-larger-than-input", spec("input 3x3x1", "maxpool 4"), (2, 1),
             lambda: apply_layers((3, 3, 1), layers.MaxPooling2D(4))),
    rejected("avgpool-window-larger-on-one-axis", spec("input 5x2x1", "avgpool 3"), (2, 1),
             lambda: apply_layers((5, 2, 1), layers.AveragePooling2D(3))),
    rejected("crop-removes-all-rows", spec("input 4x6x1", "crop 2x1"), (2, 1),
             lambda: apply_layers((4, 6, 1), layers.Cropping2D((2, 1)))),
    rejected("crop-removes-more-than-width", spec("input 4x4x1", "crop 0x0x3x2"), (2, 1),
             lambda: apply_layers((4, 4, 1), layers.Cropping2D(((0, 0), (3, 2))))),
    rejected("reshape-size-mismatch", spec("input 4x4x2", "reshape 5x5"), (2, 1),
             lambda: apply_layers((4, 4, 2), layers.Reshape((5, 5)))),
    rejected("reshape-inferred-size-mismatch", spec("input 4x4x2", "reshape -1x5"), (2, 1),
             lambda: apply_layers((4, 4, 2), layers.Reshape((-1, 5)))),
    rejected("conv-on-flat-vector", spec("input 784", "conv 8 k3"), (2, 1),
             lambda: apply_layers((784,), layers.Conv2D(8, 3))),
    rejected("conv-after-flatten", spec("input 8x8x1", "flatten", "conv 4 k3"), (3, 1),
             lambda: apply_layers((8, 8, 1), layers.Flatten(), layers.Conv2D(4, 3))),
    rejected("maxpool-on-flat-vector", spec("input 784", "maxpool 2"), (2, 1),
             lambda: apply_layers((784,), layers.MaxPooling2D(2))),
    rejected("dropout-rate-above-1", spec("input 10", "dropout 1.5"), (2, 9),
             lambda: apply_layers((10,), layers.Dropout(1.5))),
    rejected("deconv-output-padding-equals-stride", spec("input 5x5x1", "deconv 4 k3 s2 op2"), (2, 1),
             lambda: apply_layers((5, 5, 1), layers.Conv2DTranspose(4, 3, strides=2, output_padding=2))),
    rejected("deconv-output-padding-with-stride-1", spec("input 5x5x1", "deconv 4 k3 op1"), (2, 1),
             lambda: apply_layers((5, 5, 1), layers.Conv2DTranspose(4, 3, output_padding=1))),
    rejected("conv-strides-with-dilation", spec("input 9x9x1", "conv 4 k3 s2 d2"), (2, 1),
             lambda: apply_layers((9, 9, 1), layers.Conv2D(4, 3, strides=2, dilation_rate=2))),
    rejected("conv-strides-1x2-with-dilation-2x1", spec("input 9x9x1", "conv 4 k3 s1x2 d2x1"), (2, 1),
             lambda: apply_layers((9, 9, 1), layers.Conv2D(4, 3, strides=(1, 2), dilation_rate=(2, 1)))),
    rejected("deconv-strides-with-dilation", spec("input 9x9x1", "deconv 4 k3 s2 d2"), (2, 1),
             lambda: apply_layers((9, 9, 1), layers.Conv2DTranspose(4, 3, strides=2, dilation_rate=2))),
]


@pytest.mark.parametrize("text, position, build_in_keras", REJECTED)
def test_checker_rejects_with_position(text, position, build_in_keras):
    assert first_error_position(text) == position


@pytest.mark.parametrize("text, position, build_in_keras", REJECTED)
def test_keras_rejects_same_layers(text, position, build_in_keras):
    with pytest.raises(ValueError):
        build_in_keras()


# ---- Keras edge cases from public bug reports ----------------------------------


def load_edge_cases() -> dict:
    with EDGE_CASES_PATH.open(encoding="utf-8") as file:
        return json.load(file)


EDGE_CASES = load_edge_cases()


def edge_case_params(selects):
    """Return the fixture cases for which `selects(case)` is true, with ids such as `R02-minimum-input`."""
    params = []
    for case in EDGE_CASES["cases"]:
        if not selects(case):
            continue
        case_id = case["id"] + ("-" + case["variant"].replace(" ", "-") if "variant" in case else "")
        params.append(pytest.param(case, id=case_id))
    return params


def edge_case_text(case: dict) -> str:
    return spec(*case["spec"])


def first_layer_line(case: dict) -> int:
    """Return the spec line of the first layer: the one after the `input` lines."""
    return sum(1 for line in case["spec"] if line.startswith("input ")) + 1


def build_recorded_graph(graph: dict) -> tuple[int, str] | None:
    """Construct and call the recorded Keras graph node by node, as build_recorded_layers does a chain."""
    tensors = {name: keras.Input(shape=tuple(shape), name=name) for name, shape in graph["inputs"].items()}
    for index, node in enumerate(graph["nodes"]):
        layer_class = getattr(layers, node["class"])
        try:
            layer = layer_class(*node["args"], **node["kwargs"])
        except ValueError:
            return index, "construct"
        inputs = [tensors[name] for name in node["inputs"]]
        try:
            tensors[node["name"]] = layer(inputs[0] if len(inputs) == 1 else inputs)
        except ValueError:
            return index, "call"
    return None


def build_recorded_layers(input_shape, layer_arguments) -> tuple[int, str] | None:
    """Construct and call recorded Keras layers in a chain.

    Returns the index and phase ("construct" or "call") of the first layer that
    raises ValueError, or None when every layer builds.
    """
    tensor = keras.Input(shape=tuple(input_shape))
    for index, arguments in enumerate(layer_arguments):
        layer_class = getattr(layers, arguments["class"])
        try:
            layer = layer_class(*arguments["args"], **arguments["kwargs"])
        except ValueError:
            return index, "construct"
        try:
            tensor = layer(tensor)
        except ValueError:
            return index, "call"
    return None


def test_edge_case_fixture_lists_each_case_once():
    translated = {case["id"] for case in EDGE_CASES["cases"]}
    not_expressible = set(EDGE_CASES["not_expressible"])

    assert translated.isdisjoint(not_expressible)
    # The bug-report record that the fixture translates contains 45 cases.
    assert len(translated | not_expressible) == 45


@pytest.mark.parametrize("case", edge_case_params(lambda case: "expected" in case))
def test_edge_case_checker_matches_record(case):
    checked = analyse_text(edge_case_text(case))
    nodes = checked.network.layers
    expected = case["expected"]

    assert len(nodes) == len(case["keras_layers"])
    if "final_output_shape" in expected:
        assert [None, *nodes[-1].output_shape] == expected["final_output_shape"]
    else:
        assert [[None, *node.output_shape] for node in nodes] == expected["output_shapes"]
        assert [node.trainable_params for node in nodes] == expected["trainable_params"]
        assert [node.non_trainable_params for node in nodes] == expected["non_trainable_params"]
        assert checked.network.trainable_params == expected["total_trainable"]
        assert checked.network.non_trainable_params == expected["total_non_trainable"]
    assert [warning.span.line for warning in checked.warnings] == case.get("checker_warning_lines", [])


@pytest.mark.parametrize("case", edge_case_params(
    lambda case: "expected" in case and case.get("build_in_keras", True)))
def test_edge_case_checker_matches_keras(case):
    checked = analyse_text(edge_case_text(case))
    model = build_model(checked.network)

    assert_checker_matches_keras(checked.network, model)


@pytest.mark.parametrize("case", edge_case_params(lambda case: "expected_error" in case))
def test_edge_case_checker_rejects_at_recorded_layer(case):
    line, column = first_error_position(edge_case_text(case))
    layer_index = case["expected_error"]["layer_index"]

    if layer_index is None:
        assert line >= first_layer_line(case)
    else:
        assert line == layer_index + first_layer_line(case)
    assert column == 1


@pytest.mark.parametrize("case", edge_case_params(
    lambda case: bool(case.get("expected_before_error", {}).get("output_shapes"))))
def test_edge_case_checker_matches_record_before_error(case):
    layer_index = case["expected_error"]["layer_index"]
    checked = analyse_text(spec(*case["spec"][:layer_index + first_layer_line(case) - 1]))
    nodes = checked.network.layers
    expected = case["expected_before_error"]

    assert [[None, *node.output_shape] for node in nodes] == expected["output_shapes"]
    assert [node.trainable_params for node in nodes] == expected["trainable_params"]
    assert [node.non_trainable_params for node in nodes] == expected["non_trainable_params"]


@pytest.mark.parametrize("case", edge_case_params(lambda case: "expected_error" in case))
def test_edge_case_keras_rejects_at_recorded_layer(case):
    if "keras_graph" in case:
        failure = build_recorded_graph(case["keras_graph"])
    else:
        failure = build_recorded_layers(case["input_shape"], case["keras_layer_arguments"])
    expected = case["expected_error"]

    assert failure is not None, "Keras built every layer"
    if expected["layer_index"] is not None:
        assert failure == (expected["layer_index"], expected["phase"])


@pytest.mark.parametrize("case", edge_case_params(lambda case: "runtime" in case))
def test_edge_case_keras_run_matches_record(case):
    """Run the model on a batch of ones on the CPU and compare the outcome with the recorded run."""
    checked = analyse_text(edge_case_text(case))
    model = build_model(checked.network)
    runtime = case["runtime"]
    if "kernel" in runtime:
        # The record fills the first layer's kernel with 0, 1, 2, ... in row-major order.
        assert runtime["kernel"].startswith("arange(")
        first = model.get_layer(checked.network.layers[0].name)
        kernel_shape = tuple(first.kernel.shape)
        first.kernel.assign(np.arange(math.prod(kernel_shape), dtype="float32").reshape(kernel_shape))
    batch = np.ones((1, *case["input_shape"]), dtype="float32")

    if not runtime["ok"]:
        with tf.device("/CPU:0"), pytest.raises(getattr(tf.errors, runtime["type"])):
            model(batch)
        return

    with tf.device("/CPU:0"):
        output = keras.ops.convert_to_numpy(model(batch))
    assert output.shape == (1, *checked.network.layers[-1].output_shape)
    if "output_shape" in runtime:
        assert list(output.shape) == runtime["output_shape"]
    if "value" in runtime:
        assert float(output.ravel()[0]) == runtime["value"]

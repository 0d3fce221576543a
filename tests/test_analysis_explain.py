"""Explain mode: formulas with their numbers, and agreement with the checker's numbers."""

from __future__ import annotations

import pytest

from cnndsl.analysis.explain import explain_layer, explain_network
from cnndsl.pipeline import analyse_text
from conftest import EXAMPLES, run_cnndsl

EXAMPLE_NAMES = ("lenet", "vgg16", "resnet50", "mobilenet", "mobilenet_v2", "inception_v3", "unet")


def _lines(text: str, layer: str) -> dict[str, str]:
    network = analyse_text(text).network
    return dict(explain_layer(network, network.node(layer)).lines)


@pytest.fixture(scope="module")
def lenet_explanation() -> str:
    return explain_network(analyse_text((EXAMPLES / "lenet.cnn").read_text()).network)


@pytest.mark.parametrize("line", [
    "conv1 (Conv2D): (None, 28, 28, 1) -> (None, 28, 28, 6)",
    "    params: 6 x (1 x 5 x 5 + 1) = 156",
    "    height, width: ceil(28 / 1) = 28",
    "    MACs: (28 x 28 x 6) x (5 x 5 x 1) = 117,600",
    "    height, width: floor((28 - 2) / 2) + 1 = 14",
    "    params: 16 x (6 x 5 x 5 + 1) = 2,416",
    "    height, width: floor((14 - 5) / 1) + 1 = 10",
    "    features: 5 x 5 x 16 = 400",
    "    params: 120 x (400 + 1) = 48,120",
    "    MACs: 400 x 120 = 48,000",
])
def test_lenet_formulas(lenet_explanation, line):
    assert line in lenet_explanation.splitlines()


def test_valid_and_same_sizes():
    assert _lines("input 28x28x1\nconv 4 k5\n", "conv1")["height, width"] == "floor((28 - 5) / 1) + 1 = 24"
    assert _lines("input 28x28x1\nconv 4 k5 s2 same\n", "conv1")["height, width"] == "ceil(28 / 2) = 14"


def test_batchnorm_formula():
    lines = _lines("input 8x8x64\nbn\n", "batchnorm1")
    assert lines["params"] == "4 x 64 = 256 (non-trainable: 2 x 64 = 128)"
    assert lines["output"] == "same shape as the input"


def test_layernorm_formula():
    assert _lines("input 8x8x64\nln\n", "layernorm1")["params"] == "2 x 64 = 128"


def test_depthwise_formulas():
    lines = _lines("input 16x16x32\ndwconv k3 m2 s2 same\n", "dwconv1")
    assert lines["params"] == "32 x 2 x (3 x 3 + 1) = 640"
    assert lines["channels"] == "32 x 2 = 64"
    assert lines["MACs"] == "(8 x 8 x 32 x 2) x (3 x 3) = 36,864"


def test_separable_formulas():
    lines = _lines("input 16x16x32\nsepconv 64 k3 same\n", "sepconv1")
    assert lines["params"] == "3 x 3 x 32 + 32 x 64 + 64 = 2,400"
    assert lines["MACs"] == "(16 x 16 x 32) x (3 x 3) + (16 x 16 x 32) x 64 = 598,016"


def test_transposed_formulas():
    assert _lines("input 7x7x8\ndeconv 4 k3 s2\n", "deconv1")["height, width"] == "7 x 2 + max(3 - 2, 0) = 15"
    assert _lines("input 7x7x8\ndeconv 4 k4 s2 same\n", "deconv1")["height, width"] == "7 x 2 = 14"
    lines = _lines("input 7x7x8\ndeconv 4 k3 s2 same op1\n", "deconv1")
    assert lines["height, width"] == "(7 - 1) x 2 + 3 - 2 x 1 + 1 = 14"
    assert lines["params"] == "4 x (8 x 3 x 3 + 1) = 292"


def test_dilated_kernel_extent():
    lines = _lines("input 28x28x1\nconv 4 k3 d2\n", "conv1")
    assert lines["height, width kernel extent"] == "(3 - 1) x 2 + 1 = 5"
    assert lines["height, width"] == "floor((28 - 5) / 1) + 1 = 24"


def test_unequal_axes_written_separately():
    lines = _lines("input 10x12x1\nzeropad 1x2 > crop 1x0x2x0 > upsample 2x3\n", "upsample1")
    assert lines == {"params": "0 (no weights)", "height": "11 x 2 = 22", "width": "14 x 3 = 42", "MACs": "0"}


def test_merge_formulas():
    text = "input 8x8x3\nconv 16 k1 -> a\na > conv 32 k1 > concat(a) > conv 16 k1 > add(a)\n"
    assert _lines(text, "concat1")["channels"] == "32 + 16 = 48"
    assert _lines(text, "add1")["output"] == "same shape as the inputs"


def test_dense_without_bias():
    assert _lines("input 10\ndense 3 nobias\n", "dense1")["params"] == "3 x 10 = 30"


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_formulas_agree_with_checker(name):
    network = analyse_text((EXAMPLES / f"{name}.cnn").read_text()).network
    for layer in network.layers:
        shape = network.output_shape(layer.inputs[0])
        if layer.kind.explain_params is not None:
            everything, non_trainable = layer.kind.explain_params(layer.config, shape)
            assert (everything.value, non_trainable.value) == (layer.params, layer.non_trainable_params), layer.name

        shapes = [network.output_shape(tensor) for tensor in layer.inputs]
        for axis, formula in layer.kind.explain_shape(layer.config, shapes if layer.kind.merge else shape,
                                                      layer.output_shape):
            if axis in ("height", "width", "channels"):
                assert formula.value == layer.output_shape[("height", "width", "channels").index(axis)], layer.name


def test_summary_explain_command():
    result = run_cnndsl("summary", str(EXAMPLES / "lenet.cnn"), "--explain")
    assert result.returncode == 0, result.stderr
    assert "    params: 16 x (6 x 5 x 5 + 1) = 2,416" in result.stdout
    assert "Total params: 61,706" in result.stdout

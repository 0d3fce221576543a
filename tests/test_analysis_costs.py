"""MAC counts against counts computed without cnndsl's rules.

LeNet-5 and VGG16 are counted here by hand from their published layer
tables. ResNet50 and a network with every weighted layer kind are counted
from built Keras models: each layer's configuration and the output shapes
that Keras itself computed.
"""

from __future__ import annotations

import math

import pytest

from cnndsl.analysis import analyse_network
from cnndsl.analysis.costs import layer_macs
from cnndsl.pipeline import analyse_text
from conftest import EXAMPLES


def _network(name: str):
    return analyse_text((EXAMPLES / f"{name}.cnn").read_text(), f"{name}.cnn").network


def keras_macs(model) -> int:
    """Count the MACs of a Keras model from its layers' configs and Keras's own shapes."""
    import keras

    weighted = (keras.layers.Conv2D, keras.layers.Conv2DTranspose, keras.layers.DepthwiseConv2D,
                keras.layers.SeparableConv2D, keras.layers.Dense)
    total = 0
    for layer in model.layers:
        if not isinstance(layer, weighted):
            continue
        config = layer.get_config()
        inputs, outputs = layer.input.shape, layer.output.shape
        if isinstance(layer, keras.layers.Conv2DTranspose):
            kernel_height, kernel_width = config["kernel_size"]
            total += math.prod(inputs[1:]) * kernel_height * kernel_width * config["filters"]
        elif isinstance(layer, keras.layers.SeparableConv2D):
            kernel_height, kernel_width = config["kernel_size"]
            depthwise = inputs[-1] * config["depth_multiplier"]
            positions = outputs[1] * outputs[2]
            total += positions * depthwise * (kernel_height * kernel_width + config["filters"])
        elif isinstance(layer, keras.layers.DepthwiseConv2D):
            kernel_height, kernel_width = config["kernel_size"]
            total += math.prod(outputs[1:]) * kernel_height * kernel_width
        elif isinstance(layer, keras.layers.Conv2D):
            kernel_height, kernel_width = config["kernel_size"]
            total += math.prod(outputs[1:]) * kernel_height * kernel_width * inputs[-1]
        elif isinstance(layer, keras.layers.Dense):
            total += math.prod(outputs[1:]) * inputs[-1]
    return total


def test_lenet_macs_by_hand():
    # C1: 28x28x6 outputs of a 5x5x1 kernel, C3: 10x10x16 of 5x5x6, then 400-120-84-10.
    by_hand = 28 * 28 * 6 * 5 * 5 * 1 + 10 * 10 * 16 * 5 * 5 * 6 + 400 * 120 + 120 * 84 + 84 * 10

    analysis = analyse_network(_network("lenet"))

    assert by_hand == 416_520
    assert analysis.total_macs == by_hand
    assert analysis.total_flops == 2 * by_hand


def test_vgg16_macs_by_hand():
    # Configuration D of Simonyan and Zisserman: (size, input channels, filters)
    # of every 3x3 same convolution, then the three dense layers.
    convolutions = [
        (224, 3, 64), (224, 64, 64), (112, 64, 128), (112, 128, 128),
        (56, 128, 256), (56, 256, 256), (56, 256, 256),
        (28, 256, 512), (28, 512, 512), (28, 512, 512),
        (14, 512, 512), (14, 512, 512), (14, 512, 512),
    ]
    by_hand = sum(size * size * filters * 3 * 3 * channels for size, channels, filters in convolutions)
    by_hand += 7 * 7 * 512 * 4096 + 4096 * 4096 + 4096 * 1000

    analysis = analyse_network(_network("vgg16"))

    assert by_hand == 15_470_264_320
    assert analysis.total_macs == by_hand


@pytest.fixture(scope="module")
def resnet50_keras_macs() -> int:
    import gc

    import keras

    model = keras.applications.ResNet50(weights=None)
    count = keras_macs(model)
    del model
    gc.collect()
    return count


def test_resnet50_macs_match_keras_application(resnet50_keras_macs):
    analysis = analyse_network(_network("resnet50"))

    assert analysis.total_macs == resnet50_keras_macs
    assert round(analysis.total_macs / 1e9, 2) == 3.86


ALL_WEIGHTED_KINDS = """
input 20x20x3
conv 8 k3 s2 same relu
dwconv k3 m2 same
sepconv 12 k3 d2
deconv 6 k3 s2 same op1
deconv 4 k2 s2
dense 5
flatten > dense 10
"""


def test_every_weighted_kind_matches_keras():
    from cnndsl.backends.keras_backend import build_model

    network = analyse_text(ALL_WEIGHTED_KINDS).network
    model = build_model(network)

    assert analyse_network(network).total_macs == keras_macs(model)


def test_macs_per_kind():
    network = analyse_text(ALL_WEIGHTED_KINDS).network
    macs = {layer.name: layer_macs(network, layer).value for layer in network.layers}

    assert macs["conv1"] == 10 * 10 * 8 * 3 * 3 * 3
    assert macs["dwconv1"] == 10 * 10 * 16 * 3 * 3
    assert macs["sepconv1"] == 6 * 6 * 16 * 3 * 3 + 6 * 6 * 16 * 12
    assert macs["deconv1"] == 6 * 6 * 12 * 3 * 3 * 6
    assert macs["deconv2"] == 12 * 12 * 6 * 2 * 2 * 4
    assert macs["dense1"] == 24 * 24 * 4 * 5
    assert macs["dense2"] == 24 * 24 * 5 * 10


def test_parameter_free_layers_count_zero():
    network = analyse_text("input 8x8x4\nbn > relu > maxpool 2 > avgpool 2 s1 same -> a\n"
                           "a > ln > add(a) > concat(a) > upsample 2 > zeropad 1 > crop 1 > gavgpool\n").network
    macs = {layer.kind.keyword: layer_macs(network, layer).value for layer in network.layers}

    assert set(macs) == {"batchnorm", "relu", "maxpool", "avgpool", "layernorm", "add", "concat", "upsample",
                         "zeropad", "crop", "gavgpool"}
    assert set(macs.values()) == {0}


def test_block_totals_add_up():
    network = _network("resnet50")
    analysis = analyse_network(network)
    macs = {node.node.name: node.macs.value for node in analysis.nodes}
    first = analysis.blocks[0]

    inside = [layer for layer in network.layers if layer.scope[:1] == ("conv2_block1",)]
    outside = [layer for layer in network.layers if not layer.scope]

    assert first.instance.name == "conv2_block1"
    assert first.layers == len(inside)
    assert first.macs == sum(macs[layer.name] for layer in inside)
    assert first.params == sum(layer.params for layer in inside)
    assert len(analysis.blocks) == 16
    assert sum(block.macs for block in analysis.blocks) + sum(macs[layer.name] for layer in outside) \
        == analysis.total_macs


def test_nested_block_totals_include_children():
    analysis = analyse_network(_network("unet"))
    blocks = {block.instance.name: block for block in analysis.blocks}

    assert blocks["up1"].macs > blocks["up1_double_conv1"].macs > 0
    assert blocks["up1"].layers == blocks["up1_double_conv1"].layers + 2

"""The example specs against Keras.

examples/vgg16.cnn must build the same network as keras.applications.VGG16
(weights=None), layer by layer. examples/lenet.cnn must give the 61,706
parameters of the usual LeNet-5 with the checker and with Keras alike.
"""

from __future__ import annotations

import gc
import math
from pathlib import Path
from typing import NamedTuple

import pytest

from cnndsl.backends.keras_backend import build_model, import_keras
from cnndsl.pipeline import Checked, analyse_text

keras = import_keras()

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
VGG16_PATH = EXAMPLES / "vgg16.cnn"
LENET_PATH = EXAMPLES / "lenet.cnn"

VGG16_PARAMS = 138_357_544
LENET_PARAMS = 61_706

# Keras classes of the VGG16 layers whose output shapes are compared in order.
WINDOW_AND_DENSE_CLASSES = ("Conv2D", "MaxPooling2D", "Dense")


def keras_weight_counts(layer) -> tuple[int, int]:
    """Return the numbers of trainable and non-trainable weight values of a Keras layer or model."""
    trainable = sum(math.prod(weight.shape) for weight in layer.trainable_weights)
    non_trainable = sum(math.prod(weight.shape) for weight in layer.non_trainable_weights)
    return trainable, non_trainable


def check_file(path: Path) -> Checked:
    return analyse_text(path.read_text(encoding="utf-8"), str(path))


class VGG16Models(NamedTuple):
    checked: Checked
    from_spec: object
    reference: object


@pytest.fixture(scope="module")
def vgg16():
    """Build VGG16 from the spec and from keras.applications once, then free both (about 550 MB each)."""
    checked = check_file(VGG16_PATH)
    models = VGG16Models(checked, build_model(checked.network), keras.applications.VGG16(weights=None))
    yield models
    del models
    keras.backend.clear_session()
    gc.collect()


def test_vgg16_spec_has_no_warnings(vgg16):
    assert vgg16.checked.warnings == []


def test_vgg16_total_params_is_138357544(vgg16):
    assert vgg16.checked.network.total_params == VGG16_PARAMS
    assert vgg16.from_spec.count_params() == VGG16_PARAMS
    assert vgg16.reference.count_params() == VGG16_PARAMS


def test_vgg16_trainable_counts_match_keras(vgg16):
    trainable, non_trainable = keras_weight_counts(vgg16.reference)

    assert vgg16.checked.network.trainable_params == trainable
    assert vgg16.checked.network.non_trainable_params == non_trainable
    assert keras_weight_counts(vgg16.from_spec) == (trainable, non_trainable)


def test_vgg16_output_shape_matches_keras(vgg16):
    expected = tuple(vgg16.reference.output.shape)

    assert tuple(vgg16.from_spec.output.shape) == expected
    assert (None, *vgg16.checked.network.layers[-1].output_shape) == expected


def test_vgg16_layer_names_match_keras(vgg16):
    reference_names = [layer.name for layer in vgg16.reference.layers
                       if not isinstance(layer, keras.layers.InputLayer)]

    assert [node.name for node in vgg16.checked.network.layers] == reference_names


def test_vgg16_shapes_after_conv_pool_dense_match_keras(vgg16):
    reference = [(layer.__class__.__name__, tuple(layer.output.shape)) for layer in vgg16.reference.layers
                 if layer.__class__.__name__ in WINDOW_AND_DENSE_CLASSES]
    checked = [(node.kind.keras_class, (None, *node.output_shape)) for node in vgg16.checked.network.layers
               if node.kind.keras_class in WINDOW_AND_DENSE_CLASSES]

    assert len(reference) == 21, "VGG16 has 13 Conv2D, 5 MaxPooling2D and 3 Dense layers"
    assert checked == reference


def test_vgg16_weight_counts_per_layer_match_keras(vgg16):
    for node in vgg16.checked.network.layers:
        expected = keras_weight_counts(vgg16.reference.get_layer(node.name))
        assert (node.trainable_params, node.non_trainable_params) == expected, node.name


@pytest.fixture(scope="module")
def lenet():
    if not LENET_PATH.exists():
        pytest.skip("examples/lenet.cnn is missing")
    checked = check_file(LENET_PATH)
    yield checked, build_model(checked.network)
    keras.backend.clear_session()


def test_lenet_total_params_is_61706(lenet):
    checked, model = lenet

    assert checked.network.total_params == LENET_PARAMS
    assert model.count_params() == LENET_PARAMS


def test_lenet_matches_keras_per_layer(lenet):
    checked, model = lenet

    for node in checked.network.layers:
        layer = model.get_layer(node.name)
        assert (None, *node.output_shape) == tuple(layer.output.shape), f"output shape of {node.name}"
        assert (node.trainable_params, node.non_trainable_params) == keras_weight_counts(layer), node.name

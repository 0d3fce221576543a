"""Effective receptive field, measured with real Keras gradients.

The main check repeats a finding of Luo et al. ("Understanding the Effective
Receptive Field in Deep Convolutional Neural Networks", NeurIPS 2016) for n
stacked 3x3 convolutions with all weights 1 and no nonlinearity. The gradient
is then the n-fold convolution of [1, 1, 1] with itself, whose standard
deviation is sqrt(2n / 3). So the effective radius grows like sqrt(n), while
the theoretical radius grows like n.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from cnndsl.analysis.effective_rf import effective_receptive_field, effective_size
from cnndsl.pipeline import analyse_text
from conftest import EXAMPLES, run_cnndsl

LENET = EXAMPLES / "lenet.cnn"
DEPTHS = (2, 4, 8, 16)


def _stack(depth: int):
    # 41 pixels hold the whole field (2 * 16 + 1 = 33) of the middle position.
    return analyse_text("input 41x41x1\n" + "conv 1 k3 same nobias\n" * depth).network


@pytest.fixture(scope="module")
def stacks():
    return {depth: effective_receptive_field(_stack(depth), runs=1, constant_weights=True) for depth in DEPTHS}


def test_spread_is_sqrt_two_n_over_three(stacks):
    for depth, field in stacks.items():
        assert field.spread[0] == pytest.approx(math.sqrt(2 * depth / 3), rel=1e-3), depth
        assert field.spread[1] == pytest.approx(math.sqrt(2 * depth / 3), rel=1e-3), depth


def test_theoretical_radius_grows_like_n(stacks):
    for depth, field in stacks.items():
        assert field.theoretical_size == (2 * depth + 1, 2 * depth + 1)


def test_effective_radius_grows_like_sqrt_n(stacks):
    # Quadrupling the depth doubles the effective radius and quadruples the theoretical one.
    for shallow, deep in ((2, 8), (4, 16)):
        assert stacks[deep].spread[0] / stacks[shallow].spread[0] == pytest.approx(2.0, rel=1e-3)
        theoretical = (stacks[deep].theoretical_size[0] - 1) / (stacks[shallow].theoretical_size[0] - 1)
        assert theoretical == 4


def test_effective_share_shrinks_like_one_over_sqrt_n(stacks):
    shares = {depth: field.spread[0] / depth for depth, field in stacks.items()}
    for depth in DEPTHS:
        assert shares[depth] * math.sqrt(depth) == pytest.approx(math.sqrt(2 / 3), rel=1e-3)
    sizes = [stacks[depth].effective_size / stacks[depth].theoretical_size[0] for depth in DEPTHS]
    assert sizes == sorted(sizes, reverse=True)
    assert stacks[16].effective_size < stacks[16].theoretical_size[0] / 2


def test_effective_size_of_point_and_square():
    point = np.zeros((9, 9))
    point[4, 4] = 1
    flat = np.zeros((9, 9))
    flat[2:7, 2:7] = 1
    assert effective_size(point, (4, 4)) == 1
    assert effective_size(flat, (4, 4)) == 5
    assert effective_size(np.ones((8, 8)), (3.5, 3.5)) == 8


def test_images_are_averaged():
    network = analyse_text(LENET.read_text()).network
    images = np.random.default_rng(0).uniform(0, 1, (3, 28, 28, 1)).astype("float32")

    field = effective_receptive_field(network, layer_name="conv2", runs=2, images=images)

    assert (field.layer, field.position, field.images, field.runs) == ("conv2", (5, 5), 3, 2)
    assert (field.rows, field.columns) == ((8, 21), (8, 21))
    assert field.gradient.sum() == pytest.approx(1.0)
    assert field.gradient[:8].sum() == 0
    assert field.gradient[22:].sum() == 0
    assert field.gradient[:, :8].sum() == 0


def test_rf_effective_command(tmp_path):
    images = tmp_path / "digits.npz"
    np.savez(images, x=np.random.default_rng(1).uniform(0, 255, (4, 28, 28)).astype("uint8"))
    heatmap = tmp_path / "lenet.png"

    result = run_cnndsl("rf", str(LENET), "--effective", "--runs", "2", "--images", str(images), "-o", str(heatmap))

    assert result.returncode == 0, result.stderr
    assert heatmap.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "layer `maxpool2`, output position row 2, column 2" in result.stdout
    assert "theoretical receptive field: 16 pixels (rows 6..21, columns 6..21)" in result.stdout
    assert "effective receptive field: " in result.stdout
    assert "averaged over 2 random initialisations and 4 images" in result.stdout


@pytest.mark.parametrize("options, message", [
    (["--layer", "dense1"], "without height and width"),
    (["--layer", "conv3"], "no layer named `conv3`"),
    (["-o", "heatmap.svg"], "give a name ending in .png"),
])
def test_rf_effective_rejects_bad_request(tmp_path, options, message):
    result = run_cnndsl("rf", str(LENET), "--effective", *options, cwd=tmp_path)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_rf_effective_rejects_wrong_image_shape(tmp_path):
    images = tmp_path / "small.npy"
    np.save(images, np.zeros((2, 8, 8, 1), dtype="float32"))

    result = run_cnndsl("rf", str(LENET), "--effective", "--images", str(images), cwd=tmp_path)

    assert result.returncode == 1
    assert "contains images of shape 8x8x1, but the network's input is 28x28x1" in result.stderr


def test_rf_effective_needs_image_network(tmp_path):
    result = run_cnndsl("rf", "-", "--effective", cwd=tmp_path, stdin="input 16\ndense 4\n")
    assert result.returncode == 1
    assert "no layer with height and width" in result.stderr

"""Theoretical receptive fields: published figures, graph unions, and Keras gradients.

The last tests build small Keras models with all weights 1 and no
nonlinearity, so an input pixel has a nonzero gradient exactly when the
output position can see it. Where a position's theoretical field lies inside
the image, the rows and columns with a gradient must span exactly that field.
Elsewhere part of the field is padding, which has no gradient, so they must
lie inside the field.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from cnndsl.analysis.receptive_field import receptive_fields, summarize
from cnndsl.pipeline import analyse_text
from conftest import EXAMPLES, run_cnndsl


def _fields(text: str):
    network = analyse_text(text).network
    return network, receptive_fields(network)


def _example(name: str, layer: str):
    network = analyse_text((EXAMPLES / f"{name}.cnn").read_text(), f"{name}.cnn").network
    return summarize(receptive_fields(network)[layer])[0]


@pytest.mark.parametrize("example, layer, size, jump", [
    ("vgg16", "block5_conv3", 196, 16),
    ("vgg16", "block5_pool", 212, 32),
    ("resnet50", "conv5_block3_relu3", 483, 32),
    ("lenet", "maxpool2", 16, 4),
    ("lenet", "conv1", 5, 1),
])
def test_published_receptive_fields(example, layer, size, jump):
    field = _example(example, layer)
    assert field.kind == "window"
    assert field.size == (size, size)
    assert field.jump == (jump, jump)


def test_vgg16_start_offset():
    # Symmetric padding, and every 2x2 pool moves the centre half a jump on.
    assert _example("vgg16", "block5_conv3").start == (Fraction(15, 2), Fraction(15, 2))


def test_dilated_stack_grows_exponentially():
    network, fields = _fields("input 64x64x1\nconv 1 k3 d1\nconv 1 k3 d2\nconv 1 k3 d4\nconv 1 k3 d8\n")
    sizes = [summarize(fields[layer.name])[0].size[0] for layer in network.layers]
    assert sizes == [3, 7, 15, 31]


@pytest.mark.parametrize("layer", ["flatten1", "dense1", "dense3"])
def test_flatten_and_dense_see_whole_input(layer):
    assert _example("lenet", layer).kind == "whole_input"


def test_global_pooling_sees_whole_input():
    assert _example("resnet50", "predictions").kind == "whole_input"


def test_dense_on_image_keeps_field():
    _, fields = _fields("input 8x8x3\nconv 4 k3 > dense 2\n")
    assert summarize(fields["dense1"])[0].size == (3, 3)


def test_vector_network_has_no_field():
    _, fields = _fields("input 16\ndense 4\n")
    assert fields["dense1"] == {}


def test_branch_union_widens_field():
    # One branch sees o - 2 (pad 2 at the top and left, crop 2 at the bottom
    # and right), the other o - 1 .. o + 1, so together o - 2 .. o + 1.
    _, fields = _fields("input 12x12x1\nparallel add { zeropad 2x0x2x0 > crop 0x2x0x2\nconv 1 k3 same }\n")
    field = summarize(fields["add1"])[0]
    state = fields["add1"]["input"]

    assert field.size == (4, 4)
    assert field.start == (Fraction(-1, 2), Fraction(-1, 2))
    assert (state.height.first(5), state.height.last(5)) == (3, 6)


def test_residual_union_keeps_larger_field():
    _, fields = _fields("input 16x16x1\nresidual { conv 1 k3 same > conv 1 k3 same }\n")
    assert summarize(fields["add1"])[0].size == (5, 5)


def test_same_padding_extra_row_goes_last():
    # 8 -> 4 with a 3x3 stride-2 window pads 1 in total, all of it after the
    # last row, so position 0 sees rows 0..2. From 7 rows it pads 1 on each side.
    _, even = _fields("input 8x8x1\nconv 1 k3 s2 same\n")
    _, odd = _fields("input 7x7x1\nconv 1 k3 s2 same\n")

    assert summarize(even["conv1"])[0].start == (1, 1)
    assert summarize(odd["conv1"])[0].start == (0, 0)


def test_upsampling_halves_jump():
    _, fields = _fields("input 8x8x1\nconv 1 k3 s2 same > upsample 2\n")
    field = summarize(fields["upsample1"])[0]
    assert field.jump == (Fraction(1), Fraction(1))
    assert field.size == (3, 3)


def test_transposed_jump_is_fraction():
    _, fields = _fields("input 8x8x1\ndeconv 1 k3 s2 same\n")
    field = summarize(fields["deconv1"])[0]
    assert field.jump == (Fraction(1, 2), Fraction(1, 2))
    assert field.size == (2, 2)


def test_mixed_jumps_are_unknown():
    _, fields = _fields("input 8x8x1\nconv 1 k5 -> a\ninput > conv 1 k1 s2 > add(a)\n")
    field = summarize(fields["add1"])[0]
    assert field.kind == "unknown"
    assert "different jumps" in field.reason


def test_spatial_concat_is_unknown_until_global_pool():
    _, fields = _fields("input 8x8x1\nconv 1 k3 same -> a\na > conv 1 k3 same > concat(a, axis=1) > gavgpool\n")
    assert summarize(fields["concat1"])[0].kind == "unknown"
    assert summarize(fields["gavgpool1"])[0].kind == "whole_input"


def test_two_image_inputs_keep_separate_fields():
    text = "input a 8x8x1\ninput b 8x8x1\na > conv 1 k3 -> x\nb > conv 1 k5 same > crop 1 > add(x)\n"
    _, fields = _fields(text)
    summaries = {summary.input: summary for summary in summarize(fields["add1"])}
    assert summaries["a"].size == (3, 3)
    assert summaries["b"].size == (5, 5)


def test_rf_command_prints_table():
    result = run_cnndsl("rf", str(EXAMPLES / "lenet.cnn"))
    assert result.returncode == 0, result.stderr
    assert "maxpool2 (MaxPooling2D)" in result.stdout
    assert "whole input" in result.stdout


def test_rf_command_one_layer():
    result = run_cnndsl("rf", str(EXAMPLES / "vgg16.cnn"), "--layer", "block5_pool")
    assert result.returncode == 0, result.stderr
    assert "block5_pool (MaxPooling2D)  (None, 7, 7, 512)  212   32    15.5" in result.stdout
    assert "Position (row 3, column 3) of `block5_pool` sees rows 6..217 and columns 6..217" in result.stdout


def test_rf_command_unknown_layer():
    result = run_cnndsl("rf", str(EXAMPLES / "vgg16.cnn"), "--layer", "block5_cov3")
    assert result.returncode == 1
    assert "no layer named `block5_cov3`" in result.stderr
    assert "`block5_conv3`" in result.stderr
    assert "Traceback" not in result.stderr


# Specs whose fields are checked against Keras gradients. Max pooling is
# replaced by average pooling: both have the same window, but the gradient of
# a maximum reaches only one pixel.
KERAS_CASES = {
    "same padding, stride 2, even size": "input 10x10x1\nconv 1 k3 s2 same nobias\nconv 1 k3 s2 same nobias",
    "same padding, stride 2, odd size": "input 9x9x1\nconv 1 k4 s2 same nobias\navgpool 3 s2 same",
    "dilation": "input 12x12x1\nconv 1 k3 d2 nobias\nconv 1 k3 d3 same nobias",
    "transposed valid": "input 5x5x1\ndeconv 1 k3 s2 nobias",
    "transposed same": "input 5x5x1\ndeconv 1 k4 s2 same nobias",
    "transposed output padding": "input 5x5x1\ndeconv 1 k3 s2 same op1 nobias",
    "transposed after strided conv": "input 11x11x1\nconv 1 k3 s2 nobias\ndeconv 1 k2 s2 nobias",
    "upsample nearest": "input 6x6x1\nconv 1 k3 same nobias\nupsample 2\nconv 1 k3 same nobias",
    "upsample bilinear": "input 6x6x1\nupsample 2 bilinear\nconv 1 k3 same nobias",
    "pad and crop": "input 8x8x1\nzeropad 2x0x1x3\nconv 1 k3 nobias\ncrop 1x0x0x2",
    "branch union": "input 12x12x1\nparallel add { zeropad 2x0x2x0 > crop 0x2x0x2\nconv 1 k3 same nobias }",
}


def _keras_support(model, shape) -> np.ndarray:
    """Return, for every output position, the first and last input rows and columns with a gradient.

    Shape (out_rows, out_columns, 4): first row, last row, first column, last
    column, or -1 where no input pixel reaches the position.
    """
    import tensorflow as tf

    inputs = tf.ones((1, *shape))
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = model(inputs)
    jacobian = tape.jacobian(outputs, inputs).numpy()[0, :, :, :, 0, :, :, :]
    reach = np.abs(jacobian).sum(axis=(2, 5)) > 0  # (out_rows, out_columns, rows, columns)

    support = np.full((*reach.shape[:2], 4), -1)
    for row, column in np.ndindex(*reach.shape[:2]):
        rows, columns = np.nonzero(reach[row, column].any(axis=1))[0], np.nonzero(reach[row, column].any(axis=0))[0]
        if rows.size:
            support[row, column] = (rows[0], rows[-1], columns[0], columns[-1])
    return support


def _inside(box, shape) -> bool:
    first_row, last_row, first_column, last_column = box
    return first_row >= 0 and first_column >= 0 and last_row < shape[0] and last_column < shape[1]


def _within(measured, box) -> bool:
    if measured[0] == -1:
        return True
    return box[0] <= measured[0] <= measured[1] <= box[1] and box[2] <= measured[2] <= measured[3] <= box[3]


@pytest.mark.parametrize("case", KERAS_CASES)
def test_field_matches_keras_gradient(case):
    from cnndsl.analysis.effective_rf import _set_constant_weights
    from cnndsl.backends.keras_backend import build_model

    network, fields = _fields(KERAS_CASES[case] + "\n")
    model = build_model(network)
    _set_constant_weights(model)
    output = network.layers[-1]
    shape = network.inputs[0].shape
    state = fields[output.name]["input"]
    measured = _keras_support(model, shape)

    exact, bounded = [], []
    for row, column in np.ndindex(*output.output_shape[:2]):
        box = (state.height.first(row), state.height.last(row), state.width.first(column), state.width.last(column))
        if _inside(box, shape):
            exact.append((row, column, measured[row, column].tolist(), list(box)))
        else:
            bounded.append((row, column, measured[row, column].tolist(), list(box)))

    assert exact, "no output position has its whole field inside the image; use a larger input"
    assert [case for case in exact if case[2] != case[3]] == []
    assert [case for case in bounded if not _within(case[2], case[3])] == []

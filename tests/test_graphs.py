"""Branching networks: named tensors, merges, residual, parallel, blocks and imports.

Shapes and counts are checked against the Keras model built from the same
spec; errors are checked for their message and position.
"""

from __future__ import annotations

import pytest

from cnndsl.errors import CnnDslError
from cnndsl.pipeline import analyse, analyse_text
from cnndsl.syntax import Source

VALID_GRAPHS = {
    "skip_add": """
input 16x16x8
conv 8 k3 same -> a
a > conv 8 k3 same > add(a) > relu
""",
    "add_broadcast_size_one": """
input 8x8x4
conv 4 k1 -> full
gavgpool keepdims -> pooled
add(full, pooled)
""",
    "merge_kinds": """
input 8x8x4
conv 4 k1 -> a
a > conv 4 k1 -> b
subtract(a, b) -> d
multiply(a, b, d) -> m
average(a, b) -> v
maximum(m, v) -> x
minimum(x, a) > concat(a, b)
""",
    "concat_axis": """
input 8x8x4
conv 2 k1 -> a
a > conv 2 k1 > concat(a, axis=1)
""",
    "residual_identity": """
input 16x16x8
residual { conv 8 k3 same > bn > relu > conv 8 k3 same > bn } > relu
""",
    "residual_projection": """
input 16x16x8
residual { conv 16 k3 s2 same > bn } shortcut { conv 16 k1 s2 > bn } > relu
""",
    "parallel_inception": """
input 17x17x32
parallel concat {
    conv 16 k1
    conv 8 k1 > conv 16 k3 same
    avgpool 3 s1 same > conv 8 k1
    identity
}
""",
    "block_repeat_first": """
input 32x32x3
block stage(filters, stride=1, project=false) {
    residual {
        conv filters k3 strides=stride same > bn > relu
        conv filters k3 same > bn
    } shortcut if project {
        conv filters k1 strides=stride > bn
    }
    relu
}
conv 16 k3 same
stage(16) x2
stage(32) x3 first(stride=2, project=true)
gavgpool > dense 10 softmax
""",
    "two_inputs_two_outputs": """
input image 16x16x3
input meta 5
image > conv 4 k3 > gavgpool -> features
concat(features, meta) > dense 8 relu -> hidden
hidden > dense 1 sigmoid -> score
hidden > dense 3 softmax -> label
output score, label
""",
    "unet_skip": """
input 32x32x1
conv 8 k3 same relu -> e1
maxpool 2 > conv 16 k3 same relu -> e2
maxpool 2 > conv 32 k3 same relu
deconv 16 k2 s2 > concat(e2) > conv 16 k3 same relu
deconv 8 k2 s2 > concat(e1) > conv 8 k3 same relu
conv 1 k1 sigmoid
""",
}


def _weight_count(weights) -> int:
    return sum(int(weight.numpy().size) for weight in weights)


@pytest.mark.parametrize("name", sorted(VALID_GRAPHS))
def test_graph_matches_keras(name):
    from cnndsl.backends.keras_backend import build_model

    network = analyse_text(VALID_GRAPHS[name], f"{name}.cnn").network
    model = build_model(network)

    for layer in network.layers:
        keras_layer = model.get_layer(layer.name)
        assert tuple(keras_layer.output.shape[1:]) == layer.output_shape, layer.name
        assert _weight_count(keras_layer.trainable_weights) == layer.trainable_params, layer.name
        assert _weight_count(keras_layer.non_trainable_weights) == layer.non_trainable_params, layer.name
    assert model.count_params() == network.total_params


def test_block_layers_named_after_instance():
    network = analyse_text(VALID_GRAPHS["block_repeat_first"], "b.cnn").network
    names = [layer.name for layer in network.layers]

    assert "stage1_block1_conv1" in names
    assert "stage2_block3_add1" in names
    assert [instance.name for instance in network.block_instances][:3] == [
        "stage1_block1", "stage1_block2", "stage2_block1"]


def test_block_call_name_prefixes_layers():
    text = """
input 8x8x3
block unit(filters) { conv filters k3 same > relu }
unit(4, name=conv2) x2
"""
    names = [layer.name for layer in analyse_text(text, "n.cnn").network.layers]
    assert names == ["conv2_block1_conv1", "conv2_block1_relu1", "conv2_block2_conv1", "conv2_block2_relu1"]


def test_first_arguments_only_for_first_copy():
    network = analyse_text(VALID_GRAPHS["block_repeat_first"], "b.cnn").network
    strides = [layer.config["strides"] for layer in network.layers
               if layer.name.startswith("stage2") and layer.name.endswith("conv1")]
    assert strides == [(2, 2), (1, 1), (1, 1)]


def test_projection_only_when_flag_true():
    network = analyse_text(VALID_GRAPHS["block_repeat_first"], "b.cnn").network
    projections = [layer.name for layer in network.layers if layer.name.endswith("_conv3")]
    assert projections == ["stage2_block1_conv3"]


def test_several_outputs():
    network = analyse_text(VALID_GRAPHS["two_inputs_two_outputs"], "io.cnn").network
    assert [node.name for node in network.inputs] == ["image", "meta"]
    assert [network.output_shape(name) for name in network.outputs] == [(1,), (3,)]


def test_block_arithmetic():
    text = "input 8x8x3\nblock b(f) { conv (4 * f + 2) k1 > conv (f // 2) k1 }\nb(6)\n"
    shapes = [layer.output_shape for layer in analyse_text(text, "a.cnn").network.layers]
    assert shapes == [(8, 8, 26), (8, 8, 3)]


GRAPH_ERRORS = [
    ("unet_odd_size", """
input 30x30x1
conv 8 k3 same -> e1
maxpool 2 > conv 16 k3 same -> e2
maxpool 2 > conv 32 k3 same
upsample 2 > concat(e2)
""", "concat: 14x14x32 (from line 6, `upsample1`) and 15x15x16 (from line 4, `e2`) differ in height", 6, 14,
     "crop the larger input"),
    ("add_channels", """
input 56x56x64
conv 256 k1 -> wide
conv 64 k3 same > add(wide)
""", "add: 56x56x64 (from line 4, `conv2`) and 56x56x256 (from line 3, `wide`) differ in channels", 4, 19,
     "1x1 conv"),
    ("concat_axis_mismatch", """
input 8x8x4
conv 2 k1 -> a
a > conv 3 k1 > concat(a, axis=1)
""", "differ in channels", 4, 17, "all axes but the joined one match"),
    ("unknown_tensor", """
input 8x8x4
conv 2 k1 -> skip
conv 2 k1 > add(skp)
""", "`skp` is not a tensor name", 4, 17, "did you mean `skip`"),
    ("unknown_chain_start", """
input 8x8x4
conv 2 k1 -> skip
skp > conv 2 k1
""", "unknown layer kind or tensor name `skp`", 4, 1, "`skip`"),
    ("merge_one_input", """
input 8x8x4
add()
""", "add needs at least 2 inputs but receives 1", 3, 1, "add(a, b)"),
    ("parallel_one_branch", """
input 8x8x4
parallel add { conv 4 k1 }
""", "parallel add needs at least 2 branches but has 1", 3, 1, "`identity`"),
    ("first_misspelt", """
input 8x8x4
block u(f) { conv f k1 }
u(4) x2 frist(f=2)
""", "`frist(...)` after `x2` is not understood", 4, 6, "write `first(...)`"),
    ("argument_twice", """
input 8x8x4
block u(f) { conv f k1 }
u(4, f=2)
""", "block `u` receives `f` twice", 4, 6, "once"),
    ("declaration_in_block", """
input 8x8x4
block u(f) {
    conv f k1
    output x
}
u(4)
""", "only chains of layers can appear inside braces", 5, 5, "top level"),
    ("rebind_input", """
input 8
dense 4 -> input
""", "`input` is the name of a network input", 3, 12, "another tensor name"),
    ("subtract_three", """
input 8x8x4
conv 4 k1 -> a
subtract(a, a, input)
""", "subtract needs 2 inputs but receives 3", 4, 1, "list the tensors"),
    ("recursive_block", """
input 8x8x4
block a(f) { conv f k1 > b(f) }
block b(f) { a(f) }
a(4)
""", "block `a` calls itself (a -> b -> a)", 4, 14, "cannot be recursive"),
    ("unknown_block", """
input 8x8x4
bottlenek(4)
""", "unknown block or merge `bottlenek`", 3, 1, "define it"),
    ("missing_argument", """
input 8x8x4
block b(filters) { conv filters k1 }
b()
""", "block `b` needs the argument `filters`", 4, 1, "b(filters=...)"),
    ("bad_block_argument", """
input 8x8x4
block b(filters) { conv filters k1 }
b(fliters=3)
""", "block `b` has no parameter `fliters`", 4, 3, "`filters`"),
    ("error_inside_block_names_call", """
input 8x8x4
block b(filters) { conv filters k1 }
b(0)
""", "(in block `b` called at line 4)", 3, 25, "filters"),
    ("several_inputs_unnamed", """
input 8x8x4
input 3
dense 2
""", "must name each of them", 2, 1, "input NAME"),
    ("chain_without_input", """
input a 8
input b 8
dense 2
""", "this chain has no input", 4, 1, "`a > ...`"),
    ("unknown_output", """
input 8
dense 2 -> out
output uot
""", "the output `uot` is not a tensor name", 4, 8, "`out`"),
    ("shortcut_flag_missing", """
input 8x8x4
block b(f) { residual { conv f k1 } shortcut if project { conv f k1 } }
b(4)
""", "needs a block parameter named `project`", 3, 49, "declare it"),
    ("parallel_not_merge", """
input 8x8x4
parallel conv { conv 2 k1
    conv 2 k1 }
""", "`conv` is not a merge", 3, 10, "concat"),
    ("tensor_named_like_layer", """
input 8x8x4
conv 2 k1 -> relu
""", "cannot name a tensor", 3, 14, "another tensor name"),
]


@pytest.mark.parametrize("case", GRAPH_ERRORS, ids=[case[0] for case in GRAPH_ERRORS])
def test_graph_error_reported(case):
    _, text, message, line, column, fix = case

    with pytest.raises(CnnDslError) as caught:
        analyse_text(text, "g.cnn")

    matching = [d for d in caught.value.errors if message in d.message]
    assert matching, [d.message for d in caught.value.errors]
    assert (matching[0].span.line, matching[0].span.column) == (line, column)
    assert fix in (matching[0].fix or "")


def test_merge_on_own_line_continues_chain():
    text = "input 8x8x4\nconv 4 k1 -> skip\nconv 4 k3 same\nadd(skip)\n"
    merge = analyse_text(text, "m.cnn").network.layers[-1]
    assert merge.inputs == ("conv2", "skip")


def test_unreachable_layer_pruned_with_warning():
    checked = analyse_text("input 8\ndense 4 -> h\nh > dense 2\noutput h\n", "p.cnn")
    assert [layer.name for layer in checked.network.layers] == ["h"]
    assert checked.network.total_params == 36
    assert any("does not lead to any output" in w.message for w in checked.warnings)


def test_unused_tensor_warned():
    checked = analyse_text("input 8x8x4\nconv 2 k1 -> unused\ninput > conv 3 k1\n", "u.cnn")
    warnings = [w for w in checked.warnings if "never used" in w.message]
    assert len(warnings) == 1
    assert (warnings[0].span.line, warnings[0].span.column) == (2, 14)


def test_use_imports_blocks(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "blocks.cnn").write_text("block unit(f) { conv f k3 same > relu }\n")
    spec = tmp_path / "net.cnn"
    spec.write_text('use "lib/blocks.cnn"\ninput 8x8x3\nunit(5) x2\n')

    network = analyse(Source(str(spec), spec.read_text())).network

    assert network.layers[-1].output_shape == (8, 8, 5)


def test_use_cycle_rejected(tmp_path):
    (tmp_path / "a.cnn").write_text('use "b.cnn"\ninput 8\ndense 1\n')
    (tmp_path / "b.cnn").write_text('use "a.cnn"\nblock x(f) { dense f }\n')
    spec = tmp_path / "a.cnn"

    with pytest.raises(CnnDslError) as caught:
        analyse(Source(str(spec), spec.read_text()))

    error = caught.value.errors[0]
    assert "import cycle: a.cnn -> b.cnn -> a.cnn" in error.message
    assert error.source.name.endswith("b.cnn")
    assert (error.span.line, error.span.column) == (1, 1)


def test_use_missing_file(tmp_path):
    spec = tmp_path / "a.cnn"
    spec.write_text('use "nowhere.cnn"\ninput 8\ndense 1\n')

    with pytest.raises(CnnDslError) as caught:
        analyse(Source(str(spec), spec.read_text()))

    assert "cannot read `nowhere.cnn`" in caught.value.errors[0].message


def test_error_in_imported_file_names_that_file(tmp_path):
    (tmp_path / "blocks.cnn").write_text("block unit(f) {\n    conv f k9\n}\n")
    spec = tmp_path / "net.cnn"
    spec.write_text('use "blocks.cnn"\ninput 4x4x3\nunit(2)\n')

    with pytest.raises(CnnDslError) as caught:
        analyse(Source(str(spec), spec.read_text()))

    report = str(caught.value)
    assert "blocks.cnn:2:5: error: conv k9 needs an input of at least 9x9 but receives 4x4" in report

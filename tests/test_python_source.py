"""Tests of the Python source back end: the generated modules run and build the same model.

Every generated module is executed with real Keras and compared layer by
layer with the model that cnndsl.backends.keras_backend builds directly.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from cnndsl.backends import keras_backend
from cnndsl.backends.python_source import (
    KERAS_MODEL_ATTRIBUTES, STYLES, generate_source, layer_attributes, python_string, tensor_variables,
)
from cnndsl.errors import CnnDslError
from cnndsl.graph import InputNode, LayerNode, Network
from cnndsl.layers import KINDS_BY_NAME, LayerKind
from cnndsl.pipeline import analyse_text
from cnndsl.syntax import Source, Span

SPECS = {
    "lenet": """\
network LeNet5
input 28x28x1
conv 6 k5 same relu > maxpool 2 > conv 16 k5 relu > maxpool 2
flatten > dense 120 relu > dense 84 relu > dense 10 softmax
""",
    "every_kind": """\
network EveryKind
input 32x32x3
rescale 1/255 offset=-1
conv 8 k3 s2 same relu nobias > conv 8 k3 d2 same
dwconv k3 m2 same > sepconv 8 k3 same relu > deconv 8 k3 s2 op1 same
maxpool 3 s2 same > avgpool 2 s1 same
batchnorm nocenter > layernorm
zeropad 1x2x3x4 > crop 1x2 > upsample 2 bilinear > spatialdropout 0.1
relu > relu6 > leaky_relu 0.1 > elu > selu > gelu > silu > sigmoid > hard_sigmoid > hard_silu > tanh
gavgpool keepdims > gmaxpool > reshape 2x-1 > flatten
dense 16 relu > dropout 0.5 > dense 10 > softmax
""",
    # Layer names that are keras.Model attributes or the generated code's own
    # names, and a network named like the `keras` module.
    "clashing_names": """\
network keras
input 784
dense 64 relu name=call > dense 32 name=call_ > dense 16 name=layers
dense 16 name=summary > dense 8 name=x > dense 8 name=inputs
""",
    # A call too long for one line, which is written one argument per line.
    "long_line": """\
input 16x16x3
sepconv 16 k3 s2 same m2 relu nobias name=a_rather_long_layer_name_that_forces_wrapping
flatten > dense 10 softmax
""",
}

SPAN = Span(1, 1, 1, 2)

ADD = LayerKind(keyword="add", keras_class="Add", summary="element-wise sum of the inputs")


@lru_cache(maxsize=None)
def checked_network(spec: str) -> Network:
    return analyse_text(SPECS[spec], f"{spec}.cnn").network


@lru_cache(maxsize=None)
def reference_model(spec: str):
    return keras_backend.build_model(checked_network(spec))


def dense(name: str, units: int, inputs: tuple[str, ...], input_width: int) -> LayerNode:
    kind = KINDS_BY_NAME["dense"]
    config = {**kind.defaults(), "units": units}
    node = LayerNode(name, kind, config, inputs, SPAN, output_shape=(units,))
    node.trainable_params, node.non_trainable_params = kind.params(config, (input_width,))
    return node


def graph_network() -> Network:
    """Build by hand a network with two inputs, a tensor read twice, a merge and two outputs.

    The names `x`, `layers` and `keras` are the generated code's own names.
    """
    network = Network(name="TwoHeads", source=Source("graph.cnn", ""))
    network.add(InputNode("image", (8,), SPAN))
    network.add(InputNode("extra", (8,), SPAN))
    network.add(dense("x", 8, ("image",), 8))
    network.add(dense("layers", 8, ("x",), 8))
    network.add(LayerNode("merge", ADD, {}, ("layers", "x", "extra"), SPAN, output_shape=(8,),
                          trainable_params=0, non_trainable_params=0))
    network.add(dense("keras", 2, ("merge",), 8))
    network.outputs = ["keras", "merge"]
    return network


def hostile_network() -> Network:
    """Build by hand a network whose names no spec could contain, to test escaping."""
    network = Network(name='Net\'s "quoted" """ name\nsecond line \\', source=Source("hostile.cnn", ""))
    network.add(InputNode("input", (4,), SPAN))
    network.add(dense('dense "1"\n\\', 3, ("input",), 4))
    network.outputs = ['dense "1"\n\\']
    return network


def run_module(source: str) -> dict:
    """Execute generated source in a fresh namespace, as `import` would, and return the namespace."""
    namespace: dict = {"__name__": "generated"}
    exec(compile(source, "generated.py", "exec"), namespace)
    return namespace


def own_layers(model) -> list:
    return [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]


def weight_count(weights) -> int:
    return sum(int(np.prod(weight.shape)) for weight in weights)


def symbolic_inputs(network: Network) -> list:
    keras = keras_backend.import_keras()
    return [keras.Input(shape=node.shape, name=node.name) for node in network.inputs]


def output_shapes(model, network: Network) -> list[tuple]:
    inputs = symbolic_inputs(network)
    outputs = model(inputs[0] if len(inputs) == 1 else inputs)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return [tuple(output.shape) for output in outputs]


def assert_same_model(generated, reference, network: Network, style: str) -> None:
    generated_layers = own_layers(generated)
    reference_layers = own_layers(reference)
    assert [layer.name for layer in generated_layers] == [layer.name for layer in reference_layers]

    for ours, theirs in zip(generated_layers, reference_layers):
        assert type(ours) is type(theirs), ours.name
        assert ours.get_config() == theirs.get_config(), ours.name

    assert weight_count(generated.trainable_weights) == weight_count(reference.trainable_weights)
    assert weight_count(generated.non_trainable_weights) == weight_count(reference.non_trainable_weights)
    assert generated.count_params() == network.total_params
    assert output_shapes(generated, network) == output_shapes(reference, network)

    if style != "subclass":
        assert generated.name == reference.name
        for ours, theirs in zip(generated_layers, reference_layers):
            assert ours.output.shape == theirs.output.shape, ours.name


def ruff(*arguments: str, path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *arguments, "--isolated", "--line-length", "99", str(path)],
        capture_output=True, text=True, timeout=120,
    )


# ---- The generated model ----------------------------------------------------


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("spec", sorted(SPECS))
def test_generated_model_matches_keras_backend(spec, style):
    network = checked_network(spec)
    namespace = run_module(generate_source(network, style, f"{spec}.cnn"))

    model = namespace["build_model"]()

    assert_same_model(model, reference_model(spec), network, style)


@pytest.mark.parametrize("style", ["functional", "subclass"])
def test_graph_network_matches_keras_backend(style):
    network = graph_network()
    namespace = run_module(generate_source(network, style, "graph.cnn"))

    model = namespace["build_model"]()
    reference = keras_backend.build_model(network)

    assert sorted(layer.name for layer in own_layers(model)) == sorted(
        layer.name for layer in own_layers(reference))
    for layer in own_layers(model):
        assert layer.get_config() == reference.get_layer(layer.name).get_config(), layer.name
    assert model.count_params() == reference.count_params() == network.total_params
    assert output_shapes(model, network) == output_shapes(reference, network) == [(None, 2), (None, 8)]


def test_graph_network_variables():
    variables = tensor_variables(graph_network())

    assert variables["image"] == "image"
    assert variables["extra"] == "extra"
    assert variables["x"] == "x_", "read twice, so it needs its own variable, and `x` is taken"
    assert variables["layers"] == "x", "read once, by the next node"
    assert variables["merge"] == "merge", "an output that is also read"
    assert variables["keras"] == "keras_", "an output, renamed so that it keeps the module usable"


def test_graph_network_functional_source():
    source = generate_source(graph_network(), "functional", "graph.cnn")

    assert '    merge = layers.Add(name="merge")([x, x_, extra])\n' in source
    assert '    return keras.Model([image, extra], [keras_, merge], name="TwoHeads")\n' in source


def test_chain_reuses_x():
    source = generate_source(checked_network("lenet"), "functional", "lenet.cnn")

    assert '    inputs = keras.Input(shape=(28, 28, 1), name="input")\n' in source
    assert '    x = layers.Conv2D(6, 5, padding="same", activation="relu", name="conv1")(inputs)\n' in source
    assert '    x = layers.MaxPooling2D(2, name="maxpool1")(x)\n' in source
    assert '    return keras.Model(inputs, x, name="LeNet5")\n' in source


def test_sequential_rejects_graph():
    with pytest.raises(CnnDslError) as raised:
        generate_source(graph_network(), "sequential", "graph.cnn")

    diagnostic = raised.value.errors[0]
    assert "keras.Sequential" in diagnostic.message
    assert diagnostic.fix == "use --style functional or subclass"


def test_unknown_style_rejected():
    with pytest.raises(ValueError, match="unknown source style 'pytorch'"):
        generate_source(checked_network("lenet"), "pytorch", "lenet.cnn")


# ---- Names -------------------------------------------------------------------


def test_reserved_attributes_cover_keras_model():
    keras = keras_backend.import_keras()

    public = {name for name in dir(keras.Model) if not name.startswith("_")}

    assert public - KERAS_MODEL_ATTRIBUTES == set()


def test_reserved_attributes_cover_trained_model():
    network = checked_network("clashing_names")
    model = run_module(generate_source(network, "subclass", "clashing_names.cnn"))["build_model"]()
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.zeros((2, 784)), np.zeros((2, 8)), epochs=1, verbose=0)

    attributes = set(layer_attributes([layer.name for layer in network.layers]).values())
    public = {name for name in dir(model) if not name.startswith("_")} - attributes

    assert public - KERAS_MODEL_ATTRIBUTES == set()


def test_clashing_layer_names_get_safe_attributes():
    source = generate_source(checked_network("clashing_names"), "subclass", "clashing_names.cnn")

    assert "class keras_(keras.Model):\n" in source
    assert '        self.call__ = layers.Dense(64, activation="relu", name="call")\n' in source
    assert '        self.call_ = layers.Dense(32, name="call_")\n' in source
    assert '        self.layers_ = layers.Dense(16, name="layers")\n' in source
    assert '        self.summary_ = layers.Dense(16, name="summary")\n' in source
    assert '        self.x = layers.Dense(8, name="x")\n' in source
    assert '        self.inputs_ = layers.Dense(8, name="inputs")\n' in source


@pytest.mark.parametrize(("network_name", "class_name"), [
    ("LeNet5", "LeNet5"), ("keras", "keras_"), ("model", "model_"), ("build_model", "build_model_"),
    ("__name__", "__name___"),
])
def test_class_name_avoids_module_names(network_name, class_name):
    network = analyse_text(f"network {network_name}\ninput 4\ndense 2\n", "names.cnn").network

    source = generate_source(network, "subclass", "names.cnn")

    assert f"\nclass {class_name}(keras.Model):\n" in source
    assert f"    model = {class_name}()\n" in source
    assert f'        kwargs.setdefault("name", "{network_name}")\n' in source


def test_private_layer_names_get_prefix():
    attributes = layer_attributes(["_stem", "layer_stem", "_tracker", "call"])

    assert attributes == {"_stem": "layer_stem_", "layer_stem": "layer_stem", "_tracker": "layer_tracker",
                          "call": "call_"}


@pytest.mark.parametrize("style", STYLES)
def test_hostile_names_stay_literals(style):
    keras = keras_backend.import_keras()
    network = hostile_network()
    spec_name = 'dir/"""spec\\\nname.cnn'
    source = generate_source(network, style, spec_name)

    docstring = ast.get_docstring(ast.parse(source), clean=False)
    namespace = run_module(source)

    assert network.name in docstring
    assert spec_name in docstring
    if style == "subclass":
        # TensorFlow rejects these layer names as name scopes when the model is
        # called, so only the constructor runs here.
        model_class = next(value for value in namespace.values()
                           if isinstance(value, type) and issubclass(value, keras.Model) and value is not keras.Model)
        model = model_class()
    else:
        model = namespace["build_model"]()
    assert [layer.name for layer in own_layers(model)] == ['dense "1"\n\\']
    assert model.name == network.name


def test_python_string_escapes():
    cases = {
        "conv1": '"conv1"',
        'say "hi"': "'say \"hi\"'",
        "it's": '"it\'s"',
        "a\nb\\": '"a\\nb\\\\"',
        "tab\there\x00": '"tab\\there\\x00"',
    }
    for text, literal in cases.items():
        assert python_string(text) == literal
        assert ast.literal_eval(literal) == text


# ---- The generated text ------------------------------------------------------


@pytest.mark.parametrize("style", STYLES)
def test_source_is_deterministic(style):
    first = generate_source(checked_network("every_kind"), style, "every_kind.cnn")
    again = generate_source(analyse_text(SPECS["every_kind"], "every_kind.cnn").network, style, "every_kind.cnn")

    assert first == again


@pytest.mark.parametrize("style", STYLES)
def test_docstring_states_totals(style):
    source = generate_source(checked_network("lenet"), style, "examples/lenet.cnn")

    docstring = ast.get_docstring(ast.parse(source))

    assert docstring.startswith("LeNet5: a Keras model generated by cnndsl from examples/lenet.cnn.")
    assert "61,706 parameters: 61,706 trainable and 0 non-trainable." in docstring


@pytest.mark.parametrize("style", STYLES)
def test_module_layout(style):
    source = generate_source(checked_network("lenet"), style, "lenet.cnn")

    assert source.endswith('\n\nif __name__ == "__main__":\n    build_model().summary()\n')
    assert "\nimport keras\nfrom keras import layers\n" in source
    assert "\ndef build_model():\n" in source
    assert max(len(line) for line in source.splitlines()) <= 99


def identity_network() -> Network:
    network = Network(name="Identity", source=Source("identity.cnn", ""))
    network.add(InputNode("input", (4,), SPAN))
    network.outputs = ["input"]
    return network


@pytest.mark.parametrize("style", STYLES)
def test_no_layers_import_without_layers(style):
    source = generate_source(identity_network(), style, "identity.cnn")

    model = run_module(source)["build_model"]()

    assert "from keras import layers" not in source
    assert "\nimport keras\n" in source
    assert model.name == "Identity"


def test_long_spec_name_alone_on_line():
    spec_name = "/".join(["a_long_directory_name"] * 8) + "/spec.cnn"
    source = generate_source(checked_network("lenet"), "functional", spec_name)

    lines = source.splitlines()
    assert lines[0] == '"""LeNet5: a Keras model generated by cnndsl from'
    assert lines[1] == spec_name + ".", "one word alone on a line, which ruff's E501 allows"
    assert max(len(line) for line in lines[2:]) <= 99


def test_generated_sources_pass_ruff(tmp_path):
    folder = tmp_path / "generated"
    folder.mkdir()
    for spec in SPECS:
        for style in STYLES:
            source = generate_source(checked_network(spec), style, f"{spec}.cnn")
            (folder / f"{spec}_{style}.py").write_text(source)
    for style in STYLES:
        (folder / f"identity_{style}.py").write_text(generate_source(identity_network(), style, "identity.cnn"))
    for style in ("functional", "subclass"):
        (folder / f"graph_{style}.py").write_text(generate_source(graph_network(), style, "graph.cnn"))
    long_spec_name = "/".join(["a_long_directory_name"] * 8) + "/spec.cnn"
    (folder / "long_spec_name.py").write_text(generate_source(checked_network("lenet"), "sequential", long_spec_name))

    lint = ruff("check", "--no-cache", "--select", "E,W,F", path=folder)
    layout = ruff("format", "--no-cache", "--check", "--diff", path=folder)

    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert layout.returncode == 0, layout.stdout + layout.stderr


def test_generated_module_runs_as_script(tmp_path):
    path = tmp_path / "lenet_model.py"
    path.write_text(generate_source(checked_network("lenet"), "subclass", "lenet.cnn"))
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}

    result = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=300,
                            env=environment)

    assert result.returncode == 0, result.stderr
    assert "Total params: 61,706" in result.stdout


def test_import_loads_neither_jinja2_nor_keras():
    code = ("import sys, cnndsl.backends.python_source; "
            "print(sorted(name for name in ('jinja2', 'keras', 'tensorflow') if name in sys.modules))")

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"

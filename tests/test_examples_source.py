"""The Python source of every example, in every style that applies, against the Keras back end.

The specs are those in examples/ and one with two inputs and two outputs,
which no example has. For each, the generated module is executed and its
model built. The model is compared with keras_backend.build_model of the
same network: layer names in order, each layer's class and get_config(),
trainable and non-trainable weight counts and the output shapes of the model. Functional
and Sequential models also have every layer's output shape compared. A
subclassed model's layers have no output shapes of their own, because they
are called inside `call`.

Building a model is the slow part (VGG16 initialises 138 million weights),
so each reference model is built once, reduced to plain facts at once, and
only one Keras model is alive at a time. The Sequential style applies only to
chains; for the other examples the test checks that it is rejected.
"""

from __future__ import annotations

import gc
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pytest

from cnndsl.backends import keras_backend
from cnndsl.backends.python_source import STYLES, generate_source
from cnndsl.driver import default_style
from cnndsl.errors import CnnDslError
from cnndsl.graph import Network
from cnndsl.pipeline import analyse_text
from conftest import EXAMPLES

# Two inputs, a tensor read by three layers, a merge of three tensors and
# two outputs.
TWO_HEADS = """\
network TwoHeads
input image 32x32x3
input meta 8
image > conv 8 k3 same relu -> features
features > gavgpool -> pooled
features > gmaxpool -> peak
meta > dense 16 relu -> meta_features
concat(pooled, peak, meta_features) > dense 10 softmax -> label
pooled > dense 1 sigmoid -> score
output label, score
"""

EXAMPLE_NAMES = sorted(path.stem for path in EXAMPLES.glob("*.cnn"))
SPEC_NAMES = [*EXAMPLE_NAMES, "two_heads"]

# VGG16 initialises 138 million weights per build. In all three styles it
# took over a third of this file's CPU time (Keras 3.15 on 2 cores), so it
# is compared only in the style `cnndsl compile` picks for it. LeNet and MobileNet cover the other
# styles for chains; test_generated_example_sources_pass_ruff still lints
# VGG16 in every style.
DEFAULT_STYLE_ONLY = {"vgg16"}


@dataclass(frozen=True)
class ModelFacts:
    """What two models are compared by, taken from a built model so that it can be freed."""

    name: str
    layer_names: list[str]
    layer_classes: list[str]
    configs: list[dict[str, Any]]
    trainable_weights: int
    non_trainable_weights: int
    output_shapes: list[tuple[int | None, ...]]
    layer_output_shapes: list[tuple[int | None, ...]] | None


@lru_cache(maxsize=None)
def spec_network(name: str) -> Network:
    text = TWO_HEADS if name == "two_heads" else (EXAMPLES / f"{name}.cnn").read_text()
    return analyse_text(text, f"{name}.cnn").network


@lru_cache(maxsize=None)
def spec_source(name: str, style: str) -> str:
    return generate_source(spec_network(name), style, f"{name}.cnn")


def applicable_styles(name: str) -> list[str]:
    if spec_network(name).is_chain():
        return list(STYLES)
    return [style for style in STYLES if style != "sequential"]


def cases() -> list[tuple[str, str]]:
    """Return (spec, style) pairs, grouped by spec so that each reference model is alive only briefly."""
    return [(name, style) for name in SPEC_NAMES for style in applicable_styles(name)]


def built_cases() -> list[tuple[str, str]]:
    """Return the (spec, style) pairs whose models are built and compared."""
    return [(name, style) for name, style in cases()
            if name not in DEFAULT_STYLE_ONLY or style == default_style(spec_network(name))]


def model_facts(model, network: Network, with_layer_shapes: bool) -> ModelFacts:
    keras = keras_backend.import_keras()
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]

    if with_layer_shapes:
        outputs = model.outputs
    else:
        symbolic = [keras.Input(shape=node.shape, name=node.name) for node in network.inputs]
        outputs = model(symbolic[0] if len(symbolic) == 1 else symbolic)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]

    return ModelFacts(
        name=model.name,
        layer_names=[layer.name for layer in layers],
        layer_classes=[type(layer).__name__ for layer in layers],
        configs=[layer.get_config() for layer in layers],
        trainable_weights=_weight_count(model.trainable_weights),
        non_trainable_weights=_weight_count(model.non_trainable_weights),
        output_shapes=[tuple(output.shape) for output in outputs],
        layer_output_shapes=[tuple(layer.output.shape) for layer in layers] if with_layer_shapes else None,
    )


def _weight_count(weights) -> int:
    total = 0
    for weight in weights:
        count = 1
        for size in weight.shape:
            count *= size
        total += count
    return total


def free_models() -> None:
    """Drop the Keras graph state and the models built so far, so that memory stays flat."""
    keras_backend.import_keras().backend.clear_session()
    gc.collect()


@lru_cache(maxsize=1)
def reference_facts(name: str) -> ModelFacts:
    """Build the Keras back end's model of a spec and keep only its facts.

    The cache holds one spec, and the cases come grouped by spec, so every
    reference model is built once.
    """
    network = spec_network(name)
    facts = model_facts(keras_backend.build_model(network), network, with_layer_shapes=True)
    free_models()
    return facts


def generated_facts(name: str, style: str) -> ModelFacts:
    namespace: dict[str, Any] = {"__name__": "generated"}
    exec(compile(spec_source(name, style), f"{name}_{style}.py", "exec"), namespace)

    model = namespace["build_model"]()
    facts = model_facts(model, spec_network(name), with_layer_shapes=style != "subclass")
    del model, namespace
    free_models()
    return facts


@pytest.mark.parametrize(("name", "style"), built_cases())
def test_generated_model_matches_keras_backend(name, style):
    network = spec_network(name)
    reference = reference_facts(name)

    generated = generated_facts(name, style)

    # A functional model lists its layers in Keras's topological order, which
    # can differ from the spec's: ResNet's shortcut comes before the residual
    # branch. A subclassed model lists them in the order of assignment.
    if style == "subclass":
        assert generated.layer_names == [layer.name for layer in network.layers]
    else:
        assert generated.layer_names == reference.layer_names
    assert sorted(generated.layer_names) == sorted(layer.name for layer in network.layers)

    classes = dict(zip(reference.layer_names, reference.layer_classes))
    configs = dict(zip(reference.layer_names, reference.configs))
    for layer_name, layer_class, config in zip(generated.layer_names, generated.layer_classes, generated.configs):
        assert layer_class == classes[layer_name], layer_name
        assert config == configs[layer_name], layer_name
    assert generated.trainable_weights == reference.trainable_weights == network.trainable_params
    assert generated.non_trainable_weights == reference.non_trainable_weights == network.non_trainable_params
    assert generated.output_shapes == reference.output_shapes
    if style != "subclass":
        assert generated.name == reference.name == network.name
        assert generated.layer_output_shapes == reference.layer_output_shapes


@pytest.mark.parametrize("name", [name for name in SPEC_NAMES if not spec_network(name).is_chain()])
def test_sequential_rejects_graph_example(name):
    network = spec_network(name)

    with pytest.raises(CnnDslError) as raised:
        generate_source(network, "sequential", f"{name}.cnn")

    diagnostic = raised.value.errors[0]
    assert f"network {network.name} cannot be written as a keras.Sequential model, because" in diagnostic.message
    assert diagnostic.fix == "use --style functional or subclass"
    assert default_style(network) == "functional"


def test_sequential_rejection_points_at_layer():
    with pytest.raises(CnnDslError) as raised:
        generate_source(spec_network("unet"), "sequential", "unet.cnn")

    diagnostic = raised.value.errors[0]
    assert "because layer `up4_concat1` merges 2 tensors" in diagnostic.message
    assert diagnostic.span is not None
    assert diagnostic.span.line == 20


def test_sequential_rejection_counts_inputs():
    with pytest.raises(CnnDslError) as raised:
        generate_source(spec_network("two_heads"), "sequential", "two_heads.cnn")

    assert "because it has 2 inputs" in raised.value.errors[0].message


def test_functional_source_names_shared_tensors():
    source = spec_source("unet", "functional")

    # down1's output is read twice (by maxpool1 and by up1's concatenation), so
    # it gets a variable, named after the spec's tensor name `level1`; a chain reuses `x`.
    assert '    level1 = layers.Activation(activation="relu", name="down1_relu2")(x)\n' in source
    assert '    x = layers.MaxPooling2D(2, name="maxpool1")(level1)\n' in source
    assert '    x = layers.Concatenate(name="up1_concat1")([x, level1])\n' in source


def test_functional_source_has_several_inputs_and_outputs():
    source = spec_source("two_heads", "functional")

    assert '    image = keras.Input(shape=(32, 32, 3), name="image")\n' in source
    assert '    x = layers.Concatenate(name="concat1")([pooled, peak, x])\n' in source
    assert '    return keras.Model([image, meta], [label, score], name="TwoHeads")\n' in source


def test_subclass_source_unpacks_inputs():
    source = spec_source("two_heads", "subclass")

    assert "        image, meta = inputs\n" in source
    assert "        return [label, score]\n" in source


@pytest.mark.parametrize("style", ["functional", "subclass"])
def test_block_instances_head_sections(style):
    source = spec_source("resnet50", style)

    assert "\n\n    # conv2_block1 (bottleneck)\n" in source or "\n\n        # conv2_block1 (bottleneck)\n" in source
    assert source.count("# conv") == 16 * (2 if style == "subclass" else 1)


def test_sequential_headings_without_blank_lines():
    source = spec_source("mobilenet", "sequential")

    assert '            # dwsep1 (dwsep)\n            layers.DepthwiseConv2D(' in source
    assert "\n\n            " not in source


def test_generated_example_sources_pass_ruff(tmp_path):
    for name, style in cases():
        (tmp_path / f"{name}_{style}.py").write_text(spec_source(name, style))

    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache", "--select", "E,W,F",
         "--line-length", "99", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    layout = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--isolated", "--no-cache", "--check", "--diff",
         "--line-length", "99", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )

    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert layout.returncode == 0, layout.stdout + layout.stderr

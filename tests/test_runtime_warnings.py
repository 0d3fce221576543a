"""Warnings for specs that Keras builds without complaint but that fail or mislead later.

Keras computes a shape for every transposed convolution below, yet TensorFlow
cannot run some of them. The sweep runs each configuration on a batch of ones
on the CPU and requires the checker to warn exactly for those that fail.
The same holds for depthwise and separable convolutions with unequal strides.
The unknown-size cases cannot be written in a spec (every input size is a
positive number), so they are built as graphs by hand.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import tensorflow as tf

from cnndsl.backends.keras_backend import import_keras
from cnndsl.checker import check
from cnndsl.errors import Severity
from cnndsl.graph import InputNode, LayerNode, Network
from cnndsl.layers import KINDS_BY_NAME
from cnndsl.layers.values import keras_value
from cnndsl.pipeline import analyse_text
from cnndsl.syntax import Source, Span

keras = import_keras()


def deconv_text(kernel: int, strides: int, padding: str, output_padding: int | None, dilation: int) -> str:
    option = "" if output_padding is None else f" op{output_padding}"
    return f"input 5x5x1\ndeconv 1 k{kernel} s{strides} {padding}{option} d{dilation}\n"


def sweep_configurations():
    for kernel, strides, padding, output_padding, dilation in itertools.product(
            range(1, 5), (1, 2, 3), ("same", "valid"), (None, 0, 1, 2), (1, 2)):
        if output_padding is not None and output_padding >= strides:
            continue  # Keras rejects these when it constructs the layer
        if strides > 1 and dilation > 1:
            continue  # rejected as well
        yield kernel, strides, padding, output_padding, dilation


def runs_on_cpu(network: Network) -> bool:
    """Construct the network's only layer with its Keras arguments and call it eagerly on a batch of ones."""
    (node,) = network.layers
    arguments = {name: keras_value(value) for name, value in node.keras_arguments().items()}
    layer = getattr(keras.layers, node.kind.keras_class)(**arguments)
    try:
        with tf.device("/CPU:0"):
            layer(np.ones((1, *network.inputs[0].shape), dtype="float32"))
    except tf.errors.InvalidArgumentError:
        return False
    return True


def test_deconv_warning_matches_cpu_run():
    mismatches = []
    for configuration in sweep_configurations():
        checked = analyse_text(deconv_text(*configuration))
        warned = any("deconv" in warning.message for warning in checked.warnings)
        runs = runs_on_cpu(checked.network)
        if warned == runs:
            mismatches.append((deconv_text(*configuration).splitlines()[1], "warned" if warned else "silent",
                               "runs" if runs else "fails"))

    assert mismatches == []


def test_deconv_even_kernel_warning_has_position_and_reason():
    checked = analyse_text("input 5x5x1\n\n  deconv 1 k4 s2 same op0\n")
    (warning,) = checked.warnings

    assert warning.severity is Severity.WARNING
    assert (warning.span.line, warning.span.column) == (3, 3)
    assert "even kernel 4x4" in warning.message
    assert "output padding 0" in warning.message
    assert "odd kernel" in warning.fix


def test_deconv_warning_names_only_the_failing_axis():
    checked = analyse_text("input 5x5x1\ndeconv 1 k3x4 s2 same op0x0\n")
    (warning,) = checked.warnings

    assert "on the width" in warning.message
    assert "height" not in warning.message


def test_deconv_dilation_warning_names_cpu():
    checked = analyse_text("input 5x5x1\ndeconv 1 k3 d2\n")
    (warning,) = checked.warnings

    assert "dilation_rate=(2, 2)" in warning.message
    assert "CPU" in warning.message
    assert (warning.span.line, warning.span.column) == (2, 1)


def test_deconv_without_output_padding_does_not_warn():
    assert analyse_text("input 5x5x1\ndeconv 1 k4 s2 same\n").warnings == []


def test_channels_first_input_warns_at_shape():
    checked = analyse_text("input 3x224x224\nconv 8 k3 same\n")
    (warning,) = checked.warnings

    assert (warning.span.line, warning.span.column) == (1, 7)
    assert "channels-first" in warning.message


# ---- Unknown sizes, in graphs built by hand ------------------------------------------


def graph_with_unknown_size(*layer_kinds: str) -> Network:
    source = Source("<graph>", "input ?x?x3\n" + "\n".join(layer_kinds) + "\n")
    network = Network(name="unknown", source=source)
    network.add(InputNode(name="input", shape=(None, None, 3), span=Span(1, 1, 1, 12)))
    previous = "input"
    for line, keyword in enumerate(layer_kinds, start=2):
        kind = KINDS_BY_NAME[keyword.split()[0]]
        config = {**kind.defaults(), **({"units": 10} if keyword.startswith("dense") else {})}
        node = LayerNode(name=f"layer{line}", kind=kind, config=config, inputs=(previous,),
                         span=Span(line, 1, line, len(keyword) + 1))
        network.add(node)
        previous = node.name
    network.outputs = [previous]
    return network


def test_flatten_of_unknown_size_warns():
    network = graph_with_unknown_size("flatten")

    diagnostics = check(network)

    (warning,) = diagnostics
    assert warning.severity is Severity.WARNING
    assert (warning.span.line, warning.span.column) == (2, 1)
    assert "unknown size" in warning.message
    assert network.layers[0].output_shape == (None,)


def test_dense_after_unknown_flatten_rejected():
    network = graph_with_unknown_size("flatten", "dense 10")

    diagnostics = check(network)

    errors = [d for d in diagnostics if d.severity is Severity.ERROR]
    assert len(errors) == 1
    assert (errors[0].span.line, errors[0].span.column) == (3, 1)
    assert "known last axis" in errors[0].message


@pytest.mark.parametrize("shape", [(None, 8, 3), (4, None, 3)])
def test_keras_flatten_of_unknown_size_then_dense_fails(shape):
    """The behaviour the two checks above describe, in Keras itself."""
    tensor = keras.layers.Flatten()(keras.Input(shape=shape))

    assert tuple(tensor.shape) == (None, None)
    with pytest.raises(ValueError):
        keras.layers.Dense(10)(tensor)


@pytest.mark.parametrize("kind", ["dwconv 3", "sepconv 2 k3"])
def test_depthwise_warning_matches_cpu_run(kind):
    mismatches = []
    for strides, dilation in itertools.product(("1", "2", "2x1", "1x3", "3x2"), ("1", "2", "1x2")):
        text = f"input 12x12x3\n{kind} s{strides} d{dilation}\n"
        checked = analyse_text(text)
        warned = any("strides" in warning.message for warning in checked.warnings)
        runs = runs_on_cpu(checked.network)
        if warned == runs:
            mismatches.append((text.splitlines()[1], "warned" if warned else "silent", "runs" if runs else "fails"))

    assert mismatches == []

"""Keras back end: build a keras.Model from the checked layer graph and save it.

This is the only module of the compiler that imports TensorFlow/Keras, and it
does so inside its functions, so the rest of cnndsl starts fast.
"""

from __future__ import annotations

import os
from pathlib import Path

from cnndsl.errors import CnnDslError, Diagnostic, Severity
from cnndsl.graph import InputNode, Network
from cnndsl.layers.values import keras_value


def import_keras():
    """Import Keras with TensorFlow's start-up logging turned down."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    return keras


def build_model(network: Network):
    """Build the functional keras.Model of a checked network."""
    keras = import_keras()
    if keras.config.image_data_format() != "channels_last":
        raise CnnDslError(network.source, [Diagnostic(
            Severity.ERROR,
            f"Keras is configured for {keras.config.image_data_format()} data, but cnndsl specs are channels-last",
            None, "set \"image_data_format\": \"channels_last\" in ~/.keras/keras.json",
        )])

    tensors = {}
    for node in network.nodes:
        if isinstance(node, InputNode):
            tensors[node.name] = keras.Input(shape=node.shape, name=node.name)
            continue
        layer_class = getattr(keras.layers, node.kind.keras_class)
        arguments = {name: keras_value(value) for name, value in node.keras_arguments().items()}
        layer = layer_class(**arguments, name=node.name)
        inputs = [tensors[name] for name in node.inputs]
        tensors[node.name] = layer(inputs[0] if len(inputs) == 1 else inputs)

    inputs = [tensors[node.name] for node in network.inputs]
    outputs = [tensors[name] for name in network.outputs]
    return keras.Model(
        inputs=inputs[0] if len(inputs) == 1 else inputs,
        outputs=outputs[0] if len(outputs) == 1 else outputs,
        name=network.name,
    )


def save_model(model, path: Path) -> None:
    """Save `model` in the .keras format; Keras requires the file name to end in .keras."""
    model.save(str(path))

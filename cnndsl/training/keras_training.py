"""The Keras side of training: seeds, distribution strategy, optimizer, loss, metrics and callbacks.

This module imports TensorFlow and Keras when it is imported, so only code
that is about to train imports it.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from cnndsl.backends.keras_backend import import_keras
from cnndsl.training.errors import TrainingError
from cnndsl.training.settings import STRATEGIES, TrainSettings

keras = import_keras()
import tensorflow as tf  # noqa: E402 - after import_keras, which turns TensorFlow's start-up logging down

# Final activations whose outputs are probabilities; after any other the loss is computed from logits.
PROBABILITY_ACTIVATIONS = ("softmax", "sigmoid")


def make_reproducible(seed: int) -> None:
    """Seed Python, NumPy, TensorFlow and Keras, and make TensorFlow choose deterministic kernels.

    With op determinism, the same seed gives the same weights and metrics on the
    same machine and software versions. Call it before building the model.
    """
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def make_strategy(name: str) -> tf.distribute.Strategy:
    """Create the tf.distribute strategy `name`; build and compile the model inside its scope.

    `default` runs on one device. `mirrored` copies the model to every local GPU
    (or the CPU when there is none) and averages their gradients. `multi_worker`
    does the same across machines described by the TF_CONFIG environment variable.
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        _check_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise TrainingError(f"unknown strategy {name}; choose one of {', '.join(STRATEGIES)}")


def _check_tf_config() -> None:
    text = os.environ.get("TF_CONFIG")
    if not text:
        raise TrainingError("--strategy multi_worker needs the TF_CONFIG environment variable, which lists the "
                            "workers and this worker's index; see docs/training.md")
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise TrainingError(f"TF_CONFIG is not valid JSON ({error}); see docs/training.md") from None
    if not isinstance(config, dict) or "cluster" not in config or "task" not in config:
        raise TrainingError("TF_CONFIG needs a \"cluster\" and a \"task\" entry; see docs/training.md")


def predicts_probabilities(model) -> bool:
    """Return True when the model ends in softmax or sigmoid, False when it outputs logits."""
    last = model.layers[-1]
    if isinstance(last, keras.layers.Softmax):
        return True
    activation = getattr(last, "activation", None)
    return getattr(activation, "__name__", "linear") in PROBABILITY_ACTIVATIONS


def compile_model(model, settings: TrainSettings) -> None:
    """Compile `model` with the optimizer, loss and metrics of `settings`."""
    from_logits = not predicts_probabilities(model)
    losses = {
        "sparse_categorical_crossentropy": keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits),
        "categorical_crossentropy": keras.losses.CategoricalCrossentropy(from_logits=from_logits),
        "binary_crossentropy": keras.losses.BinaryCrossentropy(from_logits=from_logits),
    }
    model.compile(optimizer=make_optimizer(settings), loss=losses[settings.loss],
                  metrics=[_metric(name, settings.loss) for name in settings.metrics])


def make_optimizer(settings: TrainSettings):
    """Create the Keras optimizer; unset values keep the Keras defaults."""
    classes = {"sgd": keras.optimizers.SGD, "adam": keras.optimizers.Adam, "adamw": keras.optimizers.AdamW,
               "rmsprop": keras.optimizers.RMSprop, "adagrad": keras.optimizers.Adagrad,
               "adadelta": keras.optimizers.Adadelta, "adamax": keras.optimizers.Adamax,
               "nadam": keras.optimizers.Nadam}
    arguments = {}
    if settings.learning_rate is not None:
        arguments["learning_rate"] = settings.learning_rate
    if settings.momentum is not None:
        arguments["momentum"] = settings.momentum
    return classes[settings.optimizer](**arguments)


def _metric(name: str, loss: str):
    if name == "accuracy":
        return "accuracy"  # Keras picks sparse, categorical or binary accuracy from the loss
    if loss == "binary_crossentropy":
        raise TrainingError("top5_accuracy needs a categorical loss, not binary_crossentropy; remove the metric")
    if loss == "sparse_categorical_crossentropy":
        return keras.metrics.SparseTopKCategoricalAccuracy(k=5, name=name)
    return keras.metrics.TopKCategoricalAccuracy(k=5, name=name)


def make_callbacks(settings: TrainSettings, tensorboard: Path | None) -> tuple[list, EpochTimer]:
    """Return the callbacks for fit: the epoch timer, then the learning-rate reduction, early stopping and
    TensorBoard when asked for."""
    timer = EpochTimer()
    callbacks = [timer]
    if settings.lr_patience is not None:
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor=settings.lr_monitor, factor=settings.lr_factor,
                                                           patience=settings.lr_patience, min_lr=settings.min_lr))
    if settings.patience is not None:
        callbacks.append(keras.callbacks.EarlyStopping(monitor=settings.monitor, patience=settings.patience,
                                                       restore_best_weights=settings.restore_best_weights))
    if tensorboard is not None:
        _check_tensorboard()
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(tensorboard)))
    return callbacks, timer


def _check_tensorboard() -> None:
    """Raise TrainingError before training when the tensorboard package, which writes the logs, is missing."""
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        raise TrainingError("--tensorboard needs the tensorboard package; install it with "
                            "`pip install tensorboard`, or leave out --tensorboard")


class EpochTimer(keras.callbacks.Callback):
    """Records the wall-clock and the process CPU seconds of every epoch, validation included.

    CPU seconds (all threads together) vary less than wall-clock seconds when
    other programs share the machine.
    """

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []
        self.cpu_seconds: list[float] = []
        self._start = (0.0, 0.0)

    def on_epoch_begin(self, epoch, logs=None):
        self._start = (time.perf_counter(), time.process_time())

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start[0])
        self.cpu_seconds.append(time.process_time() - self._start[1])


def encode_labels(labels: np.ndarray, loss: str, units: int) -> np.ndarray:
    """Return labels in the form the loss expects: class numbers, one-hot rows or 0/1 columns."""
    if loss == "categorical_crossentropy":
        return keras.utils.to_categorical(labels, num_classes=units).astype(np.float32)
    if loss == "binary_crossentropy":
        return labels.astype(np.float32)[:, np.newaxis]
    return labels.astype(np.int32)


def predicted_classes(outputs: np.ndarray, loss: str, probabilities: bool) -> np.ndarray:
    """Return the predicted class numbers from the model's outputs."""
    if loss == "binary_crossentropy":
        threshold = 0.5 if probabilities else 0.0
        return (outputs[:, 0] > threshold).astype(np.int64)
    return np.argmax(outputs, axis=-1).astype(np.int64)

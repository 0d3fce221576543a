"""`cnndsl train`: check the spec, load the data, train, evaluate on the test set and write the results.

Everything that can be checked without TensorFlow (the spec, the settings,
the data files and their shapes) is checked first, so mistakes are reported
in about a second. The outputs are written together at the end (see
cnndsl/outputs.py), so an interrupted run leaves no partial files, except
the TensorBoard logs, which TensorBoard writes while training runs.
"""

from __future__ import annotations

import platform
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from cnndsl.errors import Diagnostic
from cnndsl.graph import Network
from cnndsl.memory_guard import DEFAULT_MAX_MEMORY, check_memory
from cnndsl.driver import output_stem
from cnndsl.outputs import StagedOutputs, ensure_directory
from cnndsl.syntax import Source
from cnndsl.training.data import Dataset, Fitting, load_dataset, model_inputs, split_fraction
from cnndsl.training.errors import DataError, TrainingError
from cnndsl.training import report
from cnndsl.training.report import RunRecord
from cnndsl.training.settings import (
    TrainSettings,
    apply_overrides,
    consistency_problems,
    settings_from_spec,
    settings_report,
)

# Output file suffixes after the spec's stem: lenet.cnn → lenet.keras, lenet.history.csv, ...
OUTPUT_SUFFIXES = (".keras", ".history.csv", ".history.json", ".curves.png", ".confusion.txt", ".confusion.png")

# Up to this many classes the confusion matrix is also printed; it is always written to a file.
MAX_PRINTED_CLASSES = 20


@dataclass
class TrainOptions:
    """Options of `cnndsl train` other than the training settings: data, outputs, devices and logging."""

    data: str | None = None  # None: scikit-learn's digits
    output_dir: Path = Path(".")
    stem: str | None = None  # output file names without suffix; default: the spec's file name
    overrides: dict[str, Any] = field(default_factory=dict)  # settings from the command line; None: not given
    resize: bool = False
    convert_channels: bool = False
    test_split: float = 0.2
    strategy: str = "default"
    verbose: int | None = None  # Keras fit verbosity; None: 1 on a terminal, 2 otherwise
    tensorboard: Path | None = None
    max_memory: int = DEFAULT_MAX_MEMORY  # bytes; see cnndsl/memory_guard.py


@dataclass
class Prepared:
    """A checked network with its settings and data, ready to train."""

    network: Network
    settings: TrainSettings
    seed: int
    dataset: Dataset
    units: int  # the output layer's size


def prepare(source: Source, options: TrainOptions,
            warn: Callable[[list[Diagnostic]], None] | None = None) -> Prepared:
    """Check the spec and the settings, then load the data and check it against the network.

    `warn` receives the checker's warnings about the spec before the data is loaded.
    """
    from cnndsl.pipeline import analyse

    checked = analyse(source)
    network = checked.network
    settings = apply_overrides(settings_from_spec(checked.spec), options.overrides)
    for _, message, fix in consistency_problems(settings):
        raise TrainingError(f"{message}; {fix}")
    input_shape, units = network_shape(network)
    check_memory(network, options.max_memory, other_outputs=False)  # before TensorFlow allocates the weights
    if warn is not None:
        warn(checked.warnings)

    seed = settings.seed if settings.seed is not None else secrets.randbelow(2**31)
    fitting = Fitting(input_shape, options.resize, options.convert_channels, options.test_split, seed)
    dataset = load_dataset(options.data, fitting)
    check_labels(dataset, units, settings.loss)
    return Prepared(network, settings, seed, dataset, units)


def network_shape(network: Network) -> tuple[tuple[int, ...], int]:
    """Return the network's input shape and output size; only one-input classifiers can be trained."""
    if len(network.inputs) != 1 or len(network.outputs) != 1:
        raise TrainingError(f"{network.source.name}: cnndsl train needs a network with one input and one output, "
                            f"not {len(network.inputs)} and {len(network.outputs)}")
    output = network.output_shape(network.outputs[0])
    if output is None or len(output) != 1 or output[0] is None:
        raise TrainingError(f"{network.source.name}: the network's output has the shape {output}, but cnndsl "
                            "train trains classifiers whose output is one score per class; end the spec with "
                            "`flatten > dense CLASSES softmax`")
    return tuple(network.inputs[0].shape), int(output[0])


def check_labels(dataset: Dataset, units: int, loss: str) -> None:
    """Raise DataError when the labels do not fit the output layer or the loss."""
    classes = dataset.class_count
    if loss == "binary_crossentropy":
        if units != 1 or classes > 2:
            raise DataError(f"{dataset.origin} has {classes} classes and the network {units} outputs, but "
                            "binary_crossentropy needs two classes and `dense 1 sigmoid` at the end; use "
                            "sparse_categorical_crossentropy for more classes")
        return
    if units < classes:
        raise DataError(f"{dataset.origin} has {classes} classes (labels 0 to {classes - 1}) but the network "
                        f"outputs {units} scores; end the spec with `dense {classes} softmax`")


def train_spec(source: Source, options: TrainOptions, input_path: Path | None = None,
               log: Callable[[str], None] = print,
               warn: Callable[[list[Diagnostic]], None] | None = None) -> tuple[RunRecord, list[Path]]:
    """Train the network of `source` and write the model, history, plots and confusion matrix.

    Return the run record and the written paths. `warn` receives the checker's warnings about the spec.
    """
    prepared = prepare(source, options, warn)
    dataset = prepared.dataset
    log(f"data: {dataset.description}: {len(dataset.x_train):,} training and {len(dataset.x_test):,} test "
        f"images, {dataset.class_count} classes")
    log(f"seed: {prepared.seed} (pass --seed {prepared.seed} to repeat this run)")

    # Create the output directory now, so that an unusable -o fails before training, not after.
    ensure_directory(options.output_dir)
    model, record = fit(prepared, options, source.name)
    stem = options.stem or output_stem(source, prepared.network)
    written = write_outputs(model, record, stem, options.output_dir, input_path)
    log("test: " + ", ".join(f"{name} {value:.4f}" for name, value in record.test_metrics.items()))
    if len(record.class_names) <= MAX_PRINTED_CLASSES:
        log(report.confusion_text(record.confusion, record.class_names).rstrip("\n"))
    return record, written


def fit(prepared: Prepared, options: TrainOptions, spec_name: str) -> tuple[Any, RunRecord]:
    """Build, compile and train the network with the run's settings, then evaluate it on the test set.

    Return the trained keras.Model and the run record.
    """
    from cnndsl.backends.keras_backend import build_model
    from cnndsl.training import keras_training as kt

    settings, dataset = prepared.settings, prepared.dataset
    strategy = kt.make_strategy(options.strategy)
    kt.make_reproducible(prepared.seed)
    with strategy.scope():
        model = build_model(prepared.network)
        kt.compile_model(model, settings)

    rescale = not starts_with_rescaling(prepared.network)
    x_train, y_train, validation = _training_split(prepared, rescale)
    callbacks, timer = kt.make_callbacks(settings, options.tensorboard)
    verbose = options.verbose
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 2  # a progress bar only where it redraws in place
    history = model.fit(x_train, kt.encode_labels(y_train, settings.loss, prepared.units),
                        batch_size=settings.batch_size, epochs=settings.epochs, validation_data=validation,
                        callbacks=callbacks, verbose=verbose)

    x_test = model_inputs(dataset.x_test, rescale)
    y_test = kt.encode_labels(dataset.y_test, settings.loss, prepared.units)
    test_metrics = model.evaluate(x_test, y_test, batch_size=settings.batch_size, verbose=0, return_dict=True)
    outputs = model.predict(x_test, batch_size=settings.batch_size, verbose=0)
    predicted = kt.predicted_classes(outputs, settings.loss, kt.predicts_probabilities(model))
    classes = max(dataset.class_count, int(predicted.max(initial=0)) + 1)
    class_names = dataset.class_names + tuple(str(extra) for extra in range(dataset.class_count, classes))

    record = RunRecord(
        spec=spec_name, data=dataset.description, seed=prepared.seed, strategy=options.strategy,
        settings=settings_report(settings), history=dict(history.history), seconds_per_epoch=timer.seconds,
        cpu_seconds_per_epoch=timer.cpu_seconds,
        stopped_early=len(timer.seconds) < settings.epochs, test_metrics=test_metrics, class_names=class_names,
        confusion=report.confusion_matrix(dataset.y_test, predicted, classes),
        image_counts={"training": len(x_train), "validation": len(validation[0]) if validation else 0,
                      "test": len(x_test)},
        versions={"python": platform.python_version(), "tensorflow": kt.tf.__version__,
                  "keras": kt.keras.__version__, "numpy": np.__version__},
    )
    return model, record


def starts_with_rescaling(network: Network) -> bool:
    """Return True when the input goes straight into a `rescale` layer, which then receives raw 0-255 pixels."""
    input_name = network.inputs[0].name
    return any(layer.kind is not None and layer.kind.keras_class == "Rescaling" and input_name in layer.inputs
               for layer in network.layers)


def _training_split(prepared: Prepared, rescale: bool):
    """Return the training inputs and labels, and the validation data (None without validation)."""
    from cnndsl.training import keras_training as kt

    settings, dataset = prepared.settings, prepared.dataset
    x, y = dataset.x_train, dataset.y_train
    validation = None
    if settings.validation == "test":
        validation = (dataset.x_test, dataset.y_test)
    elif isinstance(settings.validation, float):
        x, y, x_validation, y_validation = split_fraction(x, y, settings.validation, prepared.seed)
        validation = (x_validation, y_validation)

    if validation is not None:
        validation = (model_inputs(validation[0], rescale),
                      kt.encode_labels(validation[1], settings.loss, prepared.units))
    return model_inputs(x, rescale), y, validation


def write_outputs(model, record, stem: str, directory: Path, input_path: Path | None) -> list[Path]:
    """Write every output file of the run, all or none (see cnndsl/outputs.py)."""
    from cnndsl.backends.keras_backend import save_model
    from cnndsl.training import plots

    ensure_directory(directory)
    metric = next(iter(record.settings["metrics"]), None)
    with StagedOutputs(directory, protected=input_path) as outputs:
        outputs.write_with(f"{stem}.keras", lambda path: save_model(model, path))
        outputs.write_text(f"{stem}.history.csv", report.history_csv(record))
        outputs.write_text(f"{stem}.history.json", report.history_json(record))
        outputs.write_with(f"{stem}.curves.png", lambda path: plots.plot_history(record.history, metric, path))
        outputs.write_text(f"{stem}.confusion.txt", report.confusion_text(record.confusion, record.class_names))
        outputs.write_with(f"{stem}.confusion.png",
                           lambda path: plots.plot_confusion(record.confusion, record.class_names, path))
        return outputs.commit()

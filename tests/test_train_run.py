"""`cnndsl train` end to end: real training with Keras on small data, its outputs and its reproducibility.

Runs are kept to one or two epochs on a few hundred images. All but the first
test train in this process, so TensorFlow starts once.
"""

from __future__ import annotations

import csv
import json
import os
import socket
from pathlib import Path

import numpy as np
import pytest

from conftest import EXAMPLES, run_cnndsl
from cnndsl.cli import main
from cnndsl.syntax import Source
from cnndsl.training import idx
from cnndsl.training.run import OUTPUT_SUFFIXES, TrainOptions, starts_with_rescaling, train_spec

MNIST_SMALL = Path(__file__).resolve().parent / "data" / "mnist-small"
LENET = EXAMPLES / "lenet.cnn"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SMALL_NETWORK = "input 28x28x1\nconv 4 k3 relu > maxpool 2\nflatten > dense 10 softmax\n"


@pytest.fixture(scope="module")
def lenet_run(tmp_path_factory):
    """One epoch of examples/lenet.cnn on the MNIST subset, through the installed command.

    The command runs as the only worker of a multi-worker cluster on loopback.
    That covers --strategy multi_worker without a second process, and the
    other tests use the default and mirrored strategies.
    """
    folder = tmp_path_factory.mktemp("lenet-run")
    tf_config = {"cluster": {"worker": [f"127.0.0.1:{free_port()}"]}, "task": {"type": "worker", "index": 0}}
    result = run_cnndsl("train", str(LENET), "--data", str(MNIST_SMALL), "--epochs", "1", "--seed", "3",
                        "--verbose", "2", "-o", str(folder / "out"), "--tensorboard", str(folder / "logs"),
                        "--strategy", "multi_worker", env={**os.environ, "TF_CONFIG": json.dumps(tf_config)})
    return result, folder


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def small_npz(tmp_path_factory) -> Path:
    """600 training and 200 test images of the MNIST subset, as an .npz."""
    folder = MNIST_SMALL
    x_train = idx.read_idx_file(folder / "train-images-idx3-ubyte.gz", idx.IMAGES_MAGIC)[:600]
    y_train = idx.read_idx_file(folder / "train-labels-idx1-ubyte.gz", idx.LABELS_MAGIC)[:600]
    x_test = idx.read_idx_file(folder / "t10k-images-idx3-ubyte.gz", idx.IMAGES_MAGIC)[:200]
    y_test = idx.read_idx_file(folder / "t10k-labels-idx1-ubyte.gz", idx.LABELS_MAGIC)[:200]
    path = tmp_path_factory.mktemp("npz") / "mnist600.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


def train(tmp_path: Path, network: str = SMALL_NETWORK, section: str = "", **options):
    """Train a spec in this process, quietly; return the run record and the written paths."""
    source = Source(str(tmp_path / "small.cnn"), network + section)
    options.setdefault("verbose", 0)
    return train_spec(source, TrainOptions(output_dir=tmp_path / "out", **options), log=lambda line: None)


# ---- The command and its outputs ------------------------------------------------------------

def test_command_succeeds(lenet_run):
    result, _ = lenet_run
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_command_reports_data_seed_and_test(lenet_run):
    result, _ = lenet_run
    assert "data: MNIST-format IDX files in" in result.stdout
    assert "2,000 training and 500 test images, 10 classes" in result.stdout
    assert "seed: 3 (pass --seed 3 to repeat this run)" in result.stdout
    assert "test: accuracy " in result.stdout
    assert "rows: true class, columns: predicted class" in result.stdout


def test_command_writes_every_output(lenet_run):
    _, folder = lenet_run
    expected = sorted(f"lenet{suffix}" for suffix in OUTPUT_SUFFIXES)
    assert sorted(path.name for path in (folder / "out").iterdir()) == expected


def test_saved_model_loads(lenet_run):
    _, folder = lenet_run
    import keras

    model = keras.saving.load_model(folder / "out" / "lenet.keras")
    assert model.count_params() == 61706


def test_history_csv_has_one_row_per_epoch(lenet_run):
    _, folder = lenet_run
    rows = list(csv.DictReader((folder / "out" / "lenet.history.csv").open()))
    assert len(rows) == 1
    # examples/lenet.cnn uses reduce_lr, whose Keras callback logs the learning rate.
    assert set(rows[0]) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds"}
    assert 0 <= float(rows[0]["val_accuracy"]) <= 1


def test_history_json_merges_spec_and_options(lenet_run):
    _, folder = lenet_run
    record = json.loads((folder / "out" / "lenet.history.json").read_text())
    assert record["seed"] == 3
    assert record["strategy"] == "multi_worker"
    assert record["settings"]["epochs"] == 1  # --epochs over the spec's 15
    assert record["settings"]["learning_rate"] == 0.01  # from the spec's train section
    assert record["settings"]["patience"] == 3
    images = record["images"]
    assert images["training"] + images["validation"] == 2000
    assert 190 <= images["validation"] <= 210  # 10% of each class, rounded per class
    assert images["test"] == 500
    assert sum(map(sum, record["confusion_matrix"])) == 500


def test_plots_are_png(lenet_run):
    _, folder = lenet_run
    for name in ("lenet.curves.png", "lenet.confusion.png"):
        assert (folder / "out" / name).read_bytes().startswith(PNG_SIGNATURE), name


def test_confusion_text_has_a_row_per_class(lenet_run):
    _, folder = lenet_run
    lines = (folder / "out" / "lenet.confusion.txt").read_text().splitlines()
    assert len(lines) == 12  # header, 10 classes, summary
    assert lines[-1].endswith("on 500 images")


def test_tensorboard_logs_written(lenet_run):
    _, folder = lenet_run
    assert list((folder / "logs").rglob("events.out.tfevents.*"))


# ---- Reproducibility and strategies ---------------------------------------------------------

def test_same_seed_same_metrics(tmp_path, small_npz):
    options = {"data": str(small_npz), "overrides": {"epochs": 2, "seed": 11, "optimizer": "adam"}}
    first, _ = train(tmp_path / "first", **options)
    second, _ = train(tmp_path / "second", **options)

    assert first.history == second.history
    assert first.test_metrics == second.test_metrics
    assert np.array_equal(first.confusion, second.confusion)


def test_other_seed_other_metrics(tmp_path, small_npz):
    first, _ = train(tmp_path / "first", data=str(small_npz), overrides={"epochs": 1, "seed": 1})
    second, _ = train(tmp_path / "second", data=str(small_npz), overrides={"epochs": 1, "seed": 2})
    assert first.history["loss"] != second.history["loss"]


def test_mirrored_strategy_on_one_device(tmp_path, small_npz):
    record, written = train(tmp_path, data=str(small_npz), strategy="mirrored", overrides={"epochs": 1, "seed": 1})
    assert record.strategy == "mirrored"
    assert len(record.history["loss"]) == 1
    assert len(written) == len(OUTPUT_SUFFIXES)


def test_multi_worker_needs_tf_config(tmp_path, small_npz, capsys, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    spec = tmp_path / "small.cnn"
    spec.write_text(SMALL_NETWORK)

    code = main(["train", str(spec), "--data", str(small_npz), "--strategy", "multi_worker", "-o",
                 str(tmp_path / "out")])

    error = capsys.readouterr().err
    assert code == 1
    assert "--strategy multi_worker needs the TF_CONFIG environment variable" in error


# ---- Settings reaching Keras ----------------------------------------------------------------

def test_train_section_sets_epochs(tmp_path, small_npz):
    record, _ = train(tmp_path, section="train {\n epochs 2 > batch_size 64\n seed 4\n}\n", data=str(small_npz))
    assert record.epochs_run == 2
    assert record.settings["batch_size"] == 64


def test_early_stopping_stops(tmp_path, small_npz):
    section = "train {\n optimizer sgd learning_rate=50\n epochs 6\n early_stopping 0\n seed 1\n}\n"
    record, _ = train(tmp_path, section=section, data=str(small_npz))
    assert record.stopped_early
    assert record.epochs_run < 6


def test_reduce_lr_lowers_learning_rate(tmp_path, small_npz):
    # Patience 0 reduces the rate after every epoch whose training loss is not
    # the lowest so far. A huge rate makes the loss rise at once.
    section = "train {\n optimizer sgd learning_rate=50\n epochs 3\n reduce_lr 0 factor=0.5 monitor=loss\n seed 1\n}\n"
    record, _ = train(tmp_path, section=section, data=str(small_npz))

    rates = record.history["learning_rate"]
    assert rates[0] == pytest.approx(50)
    assert all(later in (earlier, earlier / 2) for earlier, later in zip(rates, rates[1:]))
    assert min(rates) < 50


def test_categorical_loss_logits_and_top5(tmp_path, small_npz):
    section = ("train {\n loss categorical_crossentropy\n metrics accuracy top5_accuracy\n"
               " validation test\n epochs 1 > seed 1\n}\n")
    network = "input 28x28x1\nflatten > dense 10\n"  # no softmax: the loss takes logits
    record, _ = train(tmp_path, network=network, section=section, data=str(small_npz))
    assert "val_top5_accuracy" in record.history
    assert record.test_metrics["top5_accuracy"] >= record.test_metrics["accuracy"]


def test_default_digits_without_data(tmp_path):
    network = "input 16x16x1\nconv 4 k3 relu\nflatten > dense 10 softmax\n"
    record, _ = train(tmp_path, network=network, overrides={"epochs": 1, "seed": 1})
    assert "scikit-learn digits" in record.data
    assert record.image_counts["test"] + record.image_counts["training"] + record.image_counts["validation"] == 1797
    assert int(record.confusion.sum()) == record.image_counts["test"]


def test_binary_image_folder(tmp_path):
    from PIL import Image

    generator = np.random.default_rng(0)
    for label, brightness in (("dark", 40), ("light", 215)):
        for index in range(12):
            pixels = np.clip(generator.normal(brightness, 20, (16, 16)), 0, 255).astype(np.uint8)
            (tmp_path / "shades" / label).mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(tmp_path / "shades" / label / f"{index}.png")
    network = "input 16x16x1\nflatten > dense 1 sigmoid\n"
    section = "train {\n loss binary_crossentropy\n optimizer adam learning_rate=0.01\n epochs 2 > seed 1\n}\n"

    record, _ = train(tmp_path, network=network, section=section, data=str(tmp_path / "shades"))

    assert record.class_names == ("dark", "light")
    assert record.confusion.shape == (2, 2)


def test_rescaling_input_detected():
    from cnndsl.pipeline import analyse_text

    assert starts_with_rescaling(analyse_text("input 8x8x1\nrescale 1/255 > flatten > dense 2\n").network)
    assert not starts_with_rescaling(analyse_text("input 8x8x1\nflatten > dense 2\n").network)

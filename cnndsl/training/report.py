"""The text outputs of a training run: history as CSV and JSON, and the confusion matrix as a table."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class RunRecord:
    """Everything a run reports: settings, per-epoch history and timing, and the test evaluation."""

    spec: str
    data: str
    seed: int
    strategy: str
    settings: dict[str, Any]
    history: dict[str, list[float]]
    seconds_per_epoch: list[float]
    cpu_seconds_per_epoch: list[float]
    stopped_early: bool
    test_metrics: dict[str, float]
    class_names: tuple[str, ...]
    confusion: np.ndarray
    image_counts: dict[str, int] = field(default_factory=dict)  # training, validation and test images
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def epochs_run(self) -> int:
        return len(self.seconds_per_epoch)


def confusion_matrix(true: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    """Count each (true class, predicted class) pair; rows are true classes."""
    pairs = true.astype(np.int64) * classes + predicted.astype(np.int64)
    return np.bincount(pairs, minlength=classes * classes).reshape(classes, classes)


def history_csv(record: RunRecord) -> str:
    """Return one CSV row per epoch: the epoch number, every logged quantity, and the epoch's seconds."""
    keys = list(record.history)
    output = io.StringIO()
    writer = csv.writer(output, lineterminator="\n")
    writer.writerow(["epoch", *keys, "seconds"])
    for epoch in range(record.epochs_run):
        values = [_number(record.history[key][epoch]) for key in keys]
        writer.writerow([epoch + 1, *values, f"{record.seconds_per_epoch[epoch]:.3f}"])
    return output.getvalue()


def history_json(record: RunRecord) -> str:
    """Return the whole record as JSON, readable by people and by scripts such as bench/train_mnist.py."""
    document = {
        "spec": record.spec,
        "data": record.data,
        "seed": record.seed,
        "strategy": record.strategy,
        "settings": record.settings,
        "epochs_run": record.epochs_run,
        "stopped_early": record.stopped_early,
        "images": record.image_counts,
        "history": {key: [float(value) for value in values] for key, values in record.history.items()},
        "seconds_per_epoch": [round(seconds, 3) for seconds in record.seconds_per_epoch],
        "cpu_seconds_per_epoch": [round(seconds, 3) for seconds in record.cpu_seconds_per_epoch],
        "test": {key: float(value) for key, value in record.test_metrics.items()},
        "class_names": list(record.class_names),
        "confusion_matrix": record.confusion.tolist(),
        "versions": record.versions,
    }
    return json.dumps(document, indent=2) + "\n"


def confusion_text(matrix: np.ndarray, class_names: tuple[str, ...]) -> str:
    """Format the confusion matrix as an aligned table, with each class's recall in the last column."""
    width = max(5, *(len(name) for name in class_names), len(str(int(matrix.max(initial=0)))))
    header = ["true\\pred".rjust(max(9, width))] + [name.rjust(width) for name in class_names] + ["recall".rjust(7)]
    lines = [" ".join(header)]
    for row, name in enumerate(class_names):
        total = matrix[row].sum()
        recall = f"{matrix[row, row] / total:.2%}" if total else "-"
        cells = [str(int(count)).rjust(width) for count in matrix[row]]
        lines.append(" ".join([name.rjust(max(9, width)), *cells, recall.rjust(7)]))
    total = matrix.sum()
    accuracy = np.trace(matrix) / total if total else 0.0
    lines.append(f"rows: true class, columns: predicted class; accuracy {accuracy:.2%} on {int(total):,} images")
    return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    return f"{float(value):.6g}"

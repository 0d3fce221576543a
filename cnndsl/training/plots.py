"""PNG plots of a training run: loss and metric curves, and the test set's confusion matrix.

The figures are drawn with matplotlib's Agg canvas directly, without pyplot,
so no display is needed and no global backend is changed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# Above this many classes the confusion matrix PNG shows colours without the counts.
MAX_ANNOTATED_CLASSES = 20


def plot_history(history: dict[str, list[float]], metric: str | None, path: Path) -> None:
    """Save the training and validation loss, and `metric` when given, per epoch, as a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    names = ["loss"] + ([metric] if metric else [])
    figure = Figure(figsize=(5 * len(names), 4), layout="constrained")
    FigureCanvasAgg(figure)
    for index, name in enumerate(names):
        axes = figure.add_subplot(1, len(names), index + 1)
        for key, label in ((name, "training"), (f"val_{name}", "validation")):
            if key in history:
                epochs = np.arange(1, len(history[key]) + 1)
                axes.plot(epochs, history[key], marker="o", label=label)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlabel("epoch")
        axes.set_ylabel(name)
        axes.set_title(name.replace("_", " "))
        axes.grid(True, alpha=0.3)
        axes.legend()
    figure.savefig(path, format="png", dpi=100)


def plot_confusion(matrix: np.ndarray, class_names: tuple[str, ...], path: Path) -> None:
    """Save the confusion matrix (rows: true class, columns: predicted class) as a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    size = max(4.0, 0.5 * len(class_names) + 2)
    figure = Figure(figsize=(size, size), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    image = axes.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axes, shrink=0.8)

    ticks = np.arange(len(class_names))
    axes.set_xticks(ticks, labels=class_names, rotation=90 if len(class_names) > 10 else 0)
    axes.set_yticks(ticks, labels=class_names)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    axes.set_title(f"test set: {int(matrix.sum()):,} images, accuracy {_accuracy(matrix):.2%}")

    if len(class_names) <= MAX_ANNOTATED_CLASSES:
        threshold = matrix.max() / 2 if matrix.size else 0
        for row, column in np.ndindex(matrix.shape):
            colour = "white" if matrix[row, column] > threshold else "black"
            axes.text(column, row, str(matrix[row, column]), ha="center", va="center", color=colour, fontsize=8)
    figure.savefig(path, format="png", dpi=100)


def _accuracy(matrix: np.ndarray) -> float:
    total = matrix.sum()
    return float(np.trace(matrix) / total) if total else 0.0

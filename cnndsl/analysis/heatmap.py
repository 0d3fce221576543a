"""The heatmap PNG of an effective receptive field, with the theoretical field outlined."""

from __future__ import annotations

from pathlib import Path

from cnndsl.analysis.effective_rf import MASS, EffectiveField
from cnndsl.outputs import StagedOutputs


def _title(field: EffectiveField, network_name: str) -> str:
    row, column = field.position
    return (f"{network_name}: effective receptive field of {field.layer}, output row {row}, column {column}\n"
            f"mean |gradient| over {field.averaged_over}")


def _outline(axes, first: tuple[int, int], last: tuple[int, int], **style) -> None:
    """Draw a rectangle around the pixels from `first` to `last` (row, column), both included."""
    from matplotlib.patches import Rectangle

    height, width = last[0] - first[0] + 1, last[1] - first[1] + 1
    axes.add_patch(Rectangle((first[1] - 0.5, first[0] - 0.5), width, height, fill=False, **style))


def _theoretical_label(field: EffectiveField, shape: tuple[int, int]) -> str:
    height, width = field.theoretical_size
    size = str(height) if height == width else f"{height}x{width}"
    clipped = field.rows[0] < 0 or field.columns[0] < 0 or field.rows[1] >= shape[0] or field.columns[1] >= shape[1]
    return f"theoretical RF: {size} px" + (" (extends past the input)" if clipped else "")


def draw_heatmap(field: EffectiveField, network_name: str):
    """Return a matplotlib Figure of the gradient, the theoretical field and the effective square."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    gradient = field.gradient / field.gradient.max()
    figure = Figure(figsize=(6.4, 5.6), dpi=120)
    axes = figure.add_subplot()
    rows, columns = gradient.shape
    image = axes.imshow(gradient, cmap="magma", interpolation="nearest",
                        extent=(-0.5, columns - 0.5, rows - 0.5, -0.5))
    colour_bar = figure.colorbar(image, ax=axes)
    colour_bar.set_label("mean |gradient|, scaled to a maximum of 1")

    # The effective square is drawn first and the dashed theoretical outline
    # on top, so both stay visible when they coincide.
    half = (field.effective_size - 1) / 2
    corner = (round(field.centre[0] - half), round(field.centre[1] - half))
    _outline(axes, corner, (corner[0] + field.effective_size - 1, corner[1] + field.effective_size - 1),
             edgecolor="#7CFC00", linewidth=2.6,
             label=f"effective RF: {field.effective_size} px square contains {MASS:.0%} of the gradient")
    _outline(axes, (field.rows[0], field.columns[0]), (field.rows[1], field.columns[1]), edgecolor="#00d5ff",
             linestyle=(0, (4, 3)), linewidth=1.6, label=_theoretical_label(field, gradient.shape))
    axes.plot(field.centre[1], field.centre[0], marker="o", markersize=6, markerfacecolor="white",
              markeredgecolor="black", linestyle="none", label="centre of the theoretical RF")

    axes.set_xlim(-0.5, columns - 0.5)
    axes.set_ylim(rows - 0.5, -0.5)
    axes.set_xlabel("input column (pixels)")
    axes.set_ylabel("input row (pixels)")
    axes.set_title(_title(field, network_name), fontsize=10)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=1, fontsize=8, frameon=False)
    return figure


def write_heatmap(field: EffectiveField, network_name: str, path: Path) -> Path:
    """Write the heatmap PNG to `path` atomically and return the path."""
    figure = draw_heatmap(field, network_name)
    directory = path.parent if str(path.parent) else Path(".")
    with StagedOutputs(directory) as staged:
        staged.write_with(path.name, lambda temporary: figure.savefig(temporary, format="png", bbox_inches="tight"))
        return staged.commit()[0]

"""Benchmark: drawing ResNet-50 with cnndsl against keras.utils.plot_model, as SVG and as PNG.

    python bench/diagram.py [--runs N] [--no-report]

cnndsl draws examples/resnet50.cnn from the spec: analyse (parse, resolve,
check), graphviz_backend.to_dot, then graphviz_backend.render with the
Graphviz `dot` program. It draws the expanded diagram, one box per layer,
and the collapsed one, one box per block instance, when to_dot has the
`collapse` option. Keras draws a built keras.applications.ResNet50
(weights=None) with keras.utils.plot_model(show_shapes=True,
show_layer_names=True), which needs the pydot package and `dot`. Both run in
this one process, in both formats: SVG is the default of `cnndsl compile`,
and PNG is the default of plot_model. The table reports the median of the
runs. The time to build the Keras model is reported apart, because
plot_model needs a model and cnndsl does not.

The script prints the figures and replaces the section "Performance:
diagram" of docs/benchmarks.md. When plot_model cannot run, the section
states the error instead of its time.
"""

from __future__ import annotations

import argparse
import inspect
import os
import re
import struct
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import common

SPEC = common.EXAMPLES / "resnet50.cnn"
FORMATS = ("svg", "png")
KERAS_NAME = "keras.utils.plot_model"
TITLE = "Performance: diagram"


@dataclass
class Variant:
    """One way of drawing the network in one format, with the seconds of each of its steps per run."""

    name: str
    fmt: str
    steps: dict[str, list[float]] = field(default_factory=dict)
    image: bytes = b""
    error: str | None = None

    def add(self, step: str, seconds: float) -> None:
        self.steps.setdefault(step, []).append(seconds)

    def median(self, step: str) -> float:
        return common.median(self.steps[step])

    def total(self) -> float:
        return sum(self.median(step) for step in self.steps)


def main() -> None:
    arguments = parse_arguments()
    machine = common.machine_description()
    variants = draw_with_cnndsl(arguments.runs)
    keras_variants, build_seconds, import_seconds = draw_with_keras(arguments.runs)
    variants += keras_variants

    body = report(machine, variants, build_seconds, import_seconds)
    common.publish(TITLE, body, arguments.report)


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="timed drawings of each kind (default: 3)")
    common.add_report_option(parser)
    return parser.parse_args()


# ---- cnndsl ---------------------------------------------------------------------------------


def draw_with_cnndsl(runs: int) -> list[Variant]:
    from cnndsl.backends import graphviz_backend

    options = {"cnndsl, expanded": {}}
    if "collapse" in inspect.signature(graphviz_backend.to_dot).parameters:
        options["cnndsl, collapsed"] = {"collapse": True}

    variants = []
    for fmt in FORMATS:
        for name, keywords in options.items():
            variant = _draw_spec(Variant(name, fmt), keywords, runs)
            print(f"{name}, {fmt}: {common.seconds(variant.total())}", flush=True)
            variants.append(variant)
    return variants


def _draw_spec(variant: Variant, keywords: dict[str, object], runs: int) -> Variant:
    from cnndsl.backends import graphviz_backend
    from cnndsl.pipeline import analyse
    from cnndsl.syntax import Source

    text = SPEC.read_text(encoding="utf-8")
    for run in range(runs + 1):  # run 0 is untimed: it loads the parser and warms caches
        checked, analyse_seconds = _timed(analyse, Source(str(SPEC), text))
        dot, dot_seconds = _timed(graphviz_backend.to_dot, checked.network, **keywords)
        variant.image, render_seconds = _timed(graphviz_backend.render, dot, variant.fmt)
        if run:
            variant.add("analyse the spec", analyse_seconds)
            variant.add("DOT source", dot_seconds)
            variant.add("render with dot", render_seconds)
    return variant


# ---- Keras ------------------------------------------------------------------------------------


def draw_with_keras(runs: int) -> tuple[list[Variant], float, float]:
    """Draw with plot_model in each format; return the variants, the model's build time and Keras's import time."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    _, import_seconds = _timed(_import_keras)
    import keras

    model, build_seconds = _timed(keras.applications.ResNet50, weights=None)
    variants = []
    with tempfile.TemporaryDirectory(prefix="cnndsl-diagram-") as directory:
        for fmt in FORMATS:
            variant = _plot_model(keras, model, Variant(KERAS_NAME, fmt), Path(directory) / f"resnet50.{fmt}", runs)
            print(f"{KERAS_NAME}, {fmt}: {variant.error or common.seconds(variant.total())}", flush=True)
            variants.append(variant)
    return variants, build_seconds, import_seconds


def _plot_model(keras, model, variant: Variant, target: Path, runs: int) -> Variant:
    for run in range(runs + 1):  # run 0 is untimed, as for cnndsl
        try:
            _, seconds = _timed(keras.utils.plot_model, model, to_file=str(target), show_shapes=True,
                                show_layer_names=True)
        except (ImportError, OSError, RuntimeError) as error:
            variant.error = f"{type(error).__name__}: {error}"
            return variant
        if run:
            variant.add("plot_model", seconds)
    variant.image = target.read_bytes()
    return variant


def _import_keras() -> None:
    import keras  # noqa: F401 - timed for the report


def _timed(function: Callable[..., object], *arguments: object, **keywords: object) -> tuple[object, float]:
    """Call `function` with the arguments; return its result and the seconds it took."""
    start = time.perf_counter()
    result = function(*arguments, **keywords)
    return result, time.perf_counter() - start


# ---- The report ---------------------------------------------------------------------------------


def report(machine: dict[str, str], variants: list[Variant], build_seconds: float, import_seconds: float) -> str:
    rows = []
    for variant in variants:
        if variant.error:
            rows.append([variant.name, variant.fmt.upper(), "failed", "", ""])
            continue
        steps = ", ".join(f"{step} {common.seconds(variant.median(step))}" for step in variant.steps)
        rows.append([variant.name, variant.fmt.upper(), common.seconds(variant.total()), steps,
                     _image_size(variant.image, variant.fmt)])
    table = common.markdown_table(["diagram of ResNet-50", "format", "total (median)", "steps (median)", "image"],
                                  rows)
    return f"""
{common.machine_markdown(machine, common.command_line())}

{table}

{_comparison(variants, build_seconds, import_seconds)}

{_pydot_note()}
"""


def _comparison(variants: list[Variant], build_seconds: float, import_seconds: float) -> str:
    lines = [f"- Building the Keras model that plot_model needs took {common.seconds(build_seconds)}, after "
             f"{common.seconds(import_seconds)} for `import keras`. Neither is in the plot_model rows."]
    for fmt in FORMATS:
        keras_variant = next(v for v in variants if v.name == KERAS_NAME and v.fmt == fmt)
        if keras_variant.error:
            lines.append(f"- {KERAS_NAME} could not draw {fmt.upper()} here: {keras_variant.error}")
            continue
        plot = keras_variant.total()
        for variant in variants:
            if variant.fmt != fmt or variant.name == KERAS_NAME:
                continue
            lines.append(f"- {fmt.upper()}, {variant.name} from the spec: {common.seconds(variant.total())}, "
                         f"{common.faster_or_slower(variant.total(), plot)} than plot_model alone and "
                         f"{common.faster_or_slower(variant.total(), plot + build_seconds)} than building the "
                         "model and plotting it.")
    return "\n".join(lines)


def _pydot_note() -> str:
    note = "keras.utils.plot_model needs the pydot package, which is not a dependency of cnndsl."
    version = common.package_version("pydot")
    if version is None:
        return note + " It was not installed in the benchmark's virtual environment."
    return (note + f" pydot {version} was installed in the benchmark's virtual environment "
            "(`pip install pydot`) for this measurement only.")


def _image_size(image: bytes, fmt: str) -> str:
    """Return the size of a PNG in pixels or of an SVG in points, and its size in KiB."""
    kibibytes = f"{len(image) / 1024:.0f} KiB"
    if fmt == "png" and image[:8] == b"\x89PNG\r\n\x1a\n" and len(image) >= 24:
        width, height = struct.unpack(">II", image[16:24])
        return f"{width}x{height} px, {kibibytes}"
    match = re.search(rb'<svg width="([\d.]+)pt" height="([\d.]+)pt"', image[:2000])
    if fmt == "svg" and match:
        return f"{float(match[1]):.0f}x{float(match[2]):.0f} pt, {kibibytes}"
    return kibibytes


if __name__ == "__main__":
    main()

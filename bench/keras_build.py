"""Benchmark: building ResNet-50 in Keras through cnndsl against keras.applications.ResNet50.

    python bench/keras_build.py [--runs N] [--no-report]

Both builds run in this one process, after Keras is imported: cnndsl reads
examples/resnet50.cnn, parses, resolves and checks it, then builds the model
with keras_backend.build_model; Keras builds ResNet50(weights=None). One
untimed build of each goes first, because the first model a process builds
pays for start-up work in TensorFlow. The timed builds then alternate, in
turn first and second, with keras.backend.clear_session() before each, and
the table reports medians.

Goal: cnndsl at most 1.2 times the time of keras.applications.ResNet50. The
script prints the figures and replaces the section "Performance: Keras
build" of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import common

SPEC = common.EXAMPLES / "resnet50.cnn"
RESNET50_PARAMS = 25_636_712
GOAL_RATIO = 1.2
TITLE = "Performance: Keras build"


def main() -> None:
    arguments = parse_arguments()
    machine = common.machine_description()

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    start = time.perf_counter()
    import keras

    import_seconds = time.perf_counter() - start
    print(f"import keras: {common.seconds(import_seconds)}", flush=True)

    builders = {"cnndsl": build_through_cnndsl, "keras.applications": lambda: keras.applications.ResNet50(weights=None)}
    for name, builder in builders.items():
        _verify(name, builder())

    times: dict[str, list[float]] = {name: [] for name in builders}
    analyse_times: list[float] = []
    for run in range(arguments.runs):
        # Alternate the order, so that neither side always runs right after the other.
        order = list(builders) if run % 2 == 0 else list(reversed(builders))
        for name in order:
            builder = builders[name]
            keras.backend.clear_session()
            start = time.perf_counter()
            builder()
            times[name].append(time.perf_counter() - start)
        analyse_times.append(_time(analyse_resnet50))
        print("  ".join(f"{name} {common.seconds(values[-1])}" for name, values in times.items()), flush=True)

    body = report(machine, import_seconds, times, analyse_times)
    common.publish(TITLE, body, arguments.report)


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="timed builds of each side (default: 7)")
    common.add_report_option(parser)
    return parser.parse_args()


def analyse_resnet50():
    from cnndsl.pipeline import analyse
    from cnndsl.syntax import Source

    return analyse(Source(str(SPEC), SPEC.read_text(encoding="utf-8")))


def build_through_cnndsl():
    from cnndsl.backends.keras_backend import build_model

    return build_model(analyse_resnet50().network)


def _verify(name: str, model) -> None:
    if model.count_params() != RESNET50_PARAMS:
        raise SystemExit(f"{name} built {model.count_params():,} parameters, not {RESNET50_PARAMS:,}")


def _time(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def report(machine: dict[str, str], import_seconds: float, times: dict[str, list[float]],
           analyse_times: list[float]) -> str:
    cnndsl, keras_applications = (common.median(times[name]) for name in ("cnndsl", "keras.applications"))
    build_ratio = cnndsl / keras_applications
    rows = [[name, common.seconds(common.median(values)), common.seconds(min(values)), common.seconds(max(values)),
             str(len(values))] for name, values in times.items()]
    return f"""
{common.machine_markdown(machine, common.command_line())}

`import keras` took {common.seconds(import_seconds)} in this process (not part of the builds).

{common.markdown_table(["ResNet-50 build (same process)", "median", "min", "max", "runs"], rows)}

- Ratio cnndsl / keras.applications: **{common.ratio(build_ratio)}** (goal of at most {GOAL_RATIO}x:
  {common.goal(build_ratio <= GOAL_RATIO)}). Both models have {RESNET50_PARAMS:,} parameters.
- Of the cnndsl time, reading, parsing, resolving and checking the spec takes
  {common.seconds(common.median(analyse_times))} (median); the rest is Keras building the layers.
"""


if __name__ == "__main__":
    main()

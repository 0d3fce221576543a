"""Benchmark: cold start of `cnndsl check` and `cnndsl summary` against ResNet-50 built in Keras.

    python bench/cold_start.py [--runs N] [--keras-runs N] [--no-report]

Every figure is a whole new process on examples/resnet50.cnn, started as a
user starts it, and the table reports the median of several runs. The Keras
script imports Keras, builds keras.applications.ResNet50(weights=None) and
prints its summary. One untimed run of each command goes first, so the
operating system's file cache is warm for both sides and cnndsl's parser
cache exists. The check without that cache is timed with CNNDSL_CACHE_DIR
set to an empty string. The timed runs take turns in rounds, the Keras runs
spread evenly over the rounds, so that a change in the load of a shared
machine affects every command alike.

Goals: `cnndsl check` at least 30 times faster than the Keras script, and
under 0.3 s. The script prints the figures and replaces the section
"Performance: cold start" of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass

import common

SPEC = "examples/resnet50.cnn"
RESNET50_PARAMS = "25,636,712"
KERAS_SCRIPT = (
    "import keras\n"
    "model = keras.applications.ResNet50(weights=None)\n"
    "model.summary()\n"
)
GOAL_RATIO = 30
GOAL_SECONDS = 0.3
TITLE = "Performance: cold start"


@dataclass(frozen=True)
class Timing:
    """The runs of one command line."""

    label: str
    runs: list[common.ProcessRun]

    @property
    def wall(self) -> float:
        return common.median([run.wall_seconds for run in self.runs])

    @property
    def fastest(self) -> float:
        return min(run.wall_seconds for run in self.runs)

    @property
    def cpu(self) -> float:
        return common.median([run.cpu_seconds for run in self.runs])

    def row(self) -> list[str]:
        slowest = max(run.wall_seconds for run in self.runs)
        return [self.label, common.seconds(self.wall), common.seconds(self.fastest), common.seconds(slowest),
                common.seconds(self.cpu), f"{max(run.max_rss_mib for run in self.runs):.0f} MiB",
                str(len(self.runs))]


def main() -> None:
    arguments = parse_arguments()
    machine = common.machine_description()
    cnndsl = common.cnndsl_command()

    # Each command: its table label, its argv, environment overrides and a text its output must contain.
    commands = {
        "python": ("python -c pass (interpreter start-up)", [sys.executable, "-c", "pass"], {}, None),
        "check": (f"cnndsl check {SPEC}", [*cnndsl, "check", SPEC], {}, RESNET50_PARAMS),
        "summary": (f"cnndsl summary {SPEC}", [*cnndsl, "summary", SPEC], {}, RESNET50_PARAMS),
        "uncached": (f"cnndsl check {SPEC}, parser cache off", [*cnndsl, "check", SPEC],
                     {"CNNDSL_CACHE_DIR": ""}, RESNET50_PARAMS),
        "keras import": ("Keras: import keras", [sys.executable, "-c", "import keras"], {}, None),
        "keras": ("Keras: import, build ResNet50(weights=None), print summary", [sys.executable, "-c", KERAS_SCRIPT],
                  {}, RESNET50_PARAMS),
    }
    counts = {key: arguments.keras_runs if key.startswith("keras") else arguments.runs for key in commands}
    timings = measure_in_rounds(commands, counts)
    for key, timing in timings.items():
        print(f"{timing.label}: median {common.seconds(timing.wall)} over {len(timing.runs)} runs", flush=True)
    breakdown = measure_breakdown(arguments.runs)

    body = report(machine, timings, breakdown)
    common.publish(TITLE, body, arguments.report)


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21, help="timed runs of each cnndsl command (default: 21)")
    parser.add_argument("--keras-runs", type=int, default=3,
                        help="timed runs of each Keras script, 10-30 s each (default: 3)")
    common.add_report_option(parser)
    return parser.parse_args()


def measure_in_rounds(commands: dict[str, tuple], counts: dict[str, int]) -> dict[str, Timing]:
    """Run every command once untimed, then `counts[key]` timed runs of each, taking turns in rounds.

    A command with fewer runs than there are rounds runs in evenly spaced rounds.
    Each run must succeed and, when the command names an expected text, print it.
    """
    rounds = max(counts.values())
    schedule = {key: {index * rounds // count for index in range(count)} for key, count in counts.items()}
    environments = {key: common.child_environment(**overrides) for key, (_, _, overrides, _) in commands.items()}
    runs: dict[str, list[common.ProcessRun]] = {key: [] for key in commands}

    for round_index in range(-1, rounds):  # round -1 is the untimed warm-up
        for key, (label, argv, _, expected) in commands.items():
            if round_index >= 0 and round_index not in schedule[key]:
                continue
            run = common.run_process(argv, environments[key])
            common.require_success(run, label)
            if expected is not None and expected not in run.stdout:
                raise SystemExit(f"{label}: the output does not contain {expected}:\n{run.stdout[-2000:]}")
            if round_index >= 0:
                runs[key].append(run)
    return {key: Timing(commands[key][0], runs[key]) for key in commands}


# Steps of `cnndsl check` inside one process, timed by a probe that performs them in order.
BREAKDOWN_PROBE = f"""
import json, time
clock = time.perf_counter
marks = [clock()]
import lark
marks.append(clock())
from cnndsl.pipeline import analyse
from cnndsl.parser import parse
from cnndsl.syntax import Source
marks.append(clock())
import cnndsl.cli
cnndsl.cli.build_parser()
marks.append(clock())
parse(Source("warm-up.cnn", "input 4\\ndense 2\\n"))
marks.append(clock())
analyse(Source({SPEC!r}, open({SPEC!r}).read()))
marks.append(clock())
print(json.dumps([later - earlier for earlier, later in zip(marks, marks[1:])]))
"""

BREAKDOWN_STEPS = (
    "import Lark",
    "import cnndsl.pipeline: the parser, resolver and checker",
    "import cnndsl.cli and build its argument parser, which imports the modules of every sub-command",
    "load the LALR parser from its cache",
    "parse, resolve and check ResNet-50",
)


def measure_breakdown(runs: int) -> list[float]:
    """Return the minimum seconds of each step of BREAKDOWN_STEPS over `runs` new processes."""
    seconds_per_run = []
    for _ in range(runs):
        run = common.run_process([sys.executable, "-c", BREAKDOWN_PROBE], common.child_environment())
        common.require_success(run, "the start-up breakdown probe")
        seconds_per_run.append(json.loads(run.stdout))
    return [min(step) for step in zip(*seconds_per_run)]


def report(machine: dict[str, str], timings: dict[str, Timing], breakdown: list[float]) -> str:
    check, summary, uncached, keras = (timings[key] for key in ("check", "summary", "uncached", "keras"))
    table = common.markdown_table(
        ["Command (whole process)", "median wall", "min", "max", "median CPU", "max RSS", "runs"],
        [timing.row() for timing in timings.values()])
    steps = common.markdown_table(["step of `cnndsl check`", "seconds (minimum)"],
                                  [[step, common.seconds(value)] for step, value in zip(BREAKDOWN_STEPS, breakdown)])
    check_ratio = keras.wall / check.wall
    return f"""
{common.machine_markdown(machine, common.command_line())}

{table}

- `cnndsl check` is **{common.ratio(check_ratio)}** faster than the Keras script
  ({common.seconds(check.wall)} against {common.seconds(keras.wall)}, median wall time).
  Goal of at least {GOAL_RATIO}x: {common.goal(check_ratio >= GOAL_RATIO)}. Goal of under
  {GOAL_SECONDS} s: {common.goal(check.wall < GOAL_SECONDS)}. The fastest runs of each:
  {common.seconds(check.fastest)} against {common.seconds(keras.fastest)}
  ({common.ratio(keras.fastest / check.fastest)}).
- `cnndsl summary` is {common.ratio(keras.wall / summary.wall)} faster than the Keras script
  ({common.seconds(summary.wall)}).
- The parser cache saves {common.seconds(uncached.wall - check.wall)} of median wall time,
  {common.seconds(uncached.cpu - check.cpu)} of median CPU time and
  {common.seconds(uncached.fastest - check.fastest)} of minimum wall time per start.

Other processes running on the machine lengthen wall time (waiting for a
CPU) and, less, CPU time (shared caches), so on a shared machine the
minimum is the closest figure for the cost of a command itself.

Where the time of `cnndsl check` goes, inside one process (the minimum over
{len(timings['check'].runs)} processes; interpreter start-up comes on top):

{steps}
"""


if __name__ == "__main__":
    main()

"""Long differential run: N random specs, each checked by cnndsl and built in Keras.

    python bench/differential.py N [--seed S] [--no-run] [--no-report] [--show K]

Spec number i is drawn from random.Random(S + i) by the generator of the test
suite (tests/specgen_graphs.py), so any spec can be drawn again from its seed.
For each spec the script records whether cnndsl accepts it and whether Keras
builds it, and compares every layer's class, output shape and weight counts.
Small accepted models are also run once on the CPU, and a run must fail exactly
when the checker warns that it cannot run (--no-run skips this). The script
prints how many specs it tried, accepted, rejected and found disagreeing, shows
the first K disagreements with their seeds and texts, and replaces the section
"Differential testing" of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter

import common

sys.path.insert(0, str(common.REPO / "tests"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from keras_oracle import Verdict, compare  # noqa: E402 - needs the tests folder on sys.path
from specgen_graphs import SpecGenerator, constructs_of  # noqa: E402
from specgen_layers import RandomDraw  # noqa: E402

TITLE = "Differential testing"
PROGRESS_EVERY = 250


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("count", type=int, help="number of specs to draw and compare")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first spec (default: 0)")
    parser.add_argument("--no-run", action="store_true", help="do not run accepted models on the CPU")
    parser.add_argument("--no-report", action="store_true", help="do not write docs/benchmarks.md")
    parser.add_argument("--show", type=int, default=10, metavar="K", help="disagreements to print (default: 10)")
    return parser.parse_args()


def run(count: int, seed: int, run_models: bool) -> tuple[Counter, Counter, list[tuple[int, Verdict]], float]:
    """Compare `count` specs; return the outcome counts, the construct counts, the disagreements and seconds."""
    outcomes: Counter = Counter()
    constructs: Counter = Counter()
    disagreements: list[tuple[int, Verdict]] = []
    start = time.perf_counter()
    for index in range(count):
        plan = SpecGenerator(RandomDraw(seed + index)).spec()
        verdict = compare(plan, run_models=run_models)
        outcomes["tried"] += 1
        outcomes["accepted" if verdict.checker_accepts else "rejected"] += 1
        if verdict.disagreements:
            outcomes["disagreed"] += 1
            disagreements.append((seed + index, verdict))
        constructs += Counter(set(constructs_of(plan)))
        if (index + 1) % PROGRESS_EVERY == 0:
            elapsed = time.perf_counter() - start
            print(f"{index + 1:,} specs, {outcomes['disagreed']} disagreements, {elapsed:.0f} s", file=sys.stderr)
    return outcomes, constructs, disagreements, time.perf_counter() - start


def print_disagreements(disagreements: list[tuple[int, Verdict]], show: int) -> None:
    for seed, verdict in disagreements[:show]:
        print(f"--- seed {seed}: {'; '.join(verdict.disagreements)}")
        print(verdict.text, end="")
        print(f"checker: {(verdict.checker_error or 'accepted')[:800]}")
        print(f"keras: {(verdict.keras_error or 'built')[:800]}\n")


def report(arguments: argparse.Namespace, outcomes: Counter, constructs: Counter, seconds: float,
           machine: dict[str, str]) -> str:
    rows = [[name, f"{outcomes[name]:,}"] for name in ("tried", "accepted", "rejected", "disagreed")]
    coverage = ", ".join(f"{name} {count:,}" for name, count in sorted(constructs.items()))
    return "\n\n".join([
        common.machine_markdown(machine, common.command_line()),
        "Each spec is drawn from its own seed by tests/specgen_graphs.py, checked by cnndsl and built "
        "directly in Keras from the generator's Keras arguments. A disagreement is a spec that one side "
        "accepts and the other rejects, a layer whose class, output shape or weight counts differ, or "
        + ("a small accepted model that fails on the CPU without a checker warning (or runs despite one)."
           if not arguments.no_run else "(with --no-run) nothing about running the models."),
        common.markdown_table(["Specs", "Count"], rows),
        f"Time: {seconds:,.0f} s ({outcomes['tried'] / seconds:.1f} specs per second).",
        f"Specs using each layer kind and construct: {coverage}.",
    ])


def main() -> int:
    arguments = parse_arguments()
    machine = common.machine_description()
    outcomes, constructs, disagreements, seconds = run(arguments.count, arguments.seed, not arguments.no_run)

    print(f"tried {outcomes['tried']:,}, accepted {outcomes['accepted']:,}, rejected {outcomes['rejected']:,}, "
          f"disagreed {outcomes['disagreed']:,} in {seconds:.0f} s")
    print_disagreements(disagreements, arguments.show)
    if not arguments.no_report:
        common.write_section(TITLE, report(arguments, outcomes, constructs, seconds, machine))
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())

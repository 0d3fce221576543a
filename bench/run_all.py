"""Run every performance benchmark in one go and record each in docs/benchmarks.md.

    python bench/run_all.py [--quick] [--no-report]

The benchmarks run one after another, each in its own process, so that no
benchmark inherits another's imports: cold_start.py, scaling.py,
keras_build.py and diagram.py. Each replaces its own "Performance: ..."
section of docs/benchmarks.md. The whole run takes about 15 to 30 minutes
on a 2-CPU machine, most of it in TensorFlow and in the 100,000-layer specs.
`--quick` runs fewer repetitions and sizes up to 10,000 layers, in a few
minutes, and writes nothing unless `--report` is given, so that a smoke test
never replaces recorded figures.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent

# Each benchmark with its arguments for the full run and for --quick.
BENCHMARKS: dict[str, tuple[list[str], list[str]]] = {
    "cold_start.py": ([], ["--runs", "3", "--keras-runs", "1"]),
    "scaling.py": ([], ["--sizes", "1000,10000"]),
    "keras_build.py": ([], ["--runs", "2"]),
    "diagram.py": ([], ["--runs", "1"]),
}


def main() -> None:
    arguments = parse_arguments()
    failed = []
    for script, (full, quick) in BENCHMARKS.items():
        argv = [sys.executable, str(BENCH / script), *(quick if arguments.quick else full)]
        if not arguments.report:
            argv.append("--no-report")
        print(f"==> {' '.join(argv[1:])}", flush=True)
        start = time.perf_counter()
        returncode = subprocess.run(argv, cwd=BENCH.parent).returncode
        print(f"<== {script}: exit code {returncode} after {time.perf_counter() - start:.0f} s", flush=True)
        if returncode != 0:
            failed.append(script)

    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer runs and sizes up to 10,000 layers; implies --no-report unless --report is given")
    parser.add_argument("--report", dest="report", action="store_true", default=None,
                        help="write docs/benchmarks.md (the default for a full run)")
    parser.add_argument("--no-report", dest="report", action="store_false",
                        help="print the figures without writing docs/benchmarks.md")
    arguments = parser.parse_args()
    if arguments.report is None:
        arguments.report = not arguments.quick
    return arguments


if __name__ == "__main__":
    main()

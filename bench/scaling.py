"""Benchmark: time and memory of parse, check, DOT and summary on generated specs of growing size.

    python bench/scaling.py [--sizes 1000,10000,100000] [--shapes chain,residual] [--no-report]

For every generated spec (bench/specs.py) the script starts three kinds of
child process:

- a timing worker, which runs the phases in order and times each: parse
  (spec text to syntax tree; also Lark's share of it, parsing with callbacks
  that build nothing), check (resolve and check, to the layer graph
  with shapes and parameter counts), DOT (graphviz_backend.to_dot) and
  summary (the `cnndsl summary` table). The collector is paused during parse
  and check, as pipeline.analyse pauses it;
- a memory worker, which runs the same phases under tracemalloc and reports
  the peak of each phase above the memory held before it;
- `cnndsl check SPEC`, the whole command, for its wall time and peak RSS.

Linear growth shows as a ratio of about 10 between sizes that differ by 10x.
Goal: the 100,000-layer specs checked in under 5 s by `cnndsl check`. The
script prints the figures and replaces the section "Performance: scaling" of
docs/benchmarks.md. A RecursionError in any phase makes the worker, and so
the script, fail.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import common
import specs

from cnndsl.parser import PURE_PARSER_VARIABLE, accelerator

DEFAULT_SIZES = (1_000, 10_000, 100_000)
PHASES = ("parse", "check", "dot", "summary")
GOAL_LAYERS = 100_000
GOAL_SECONDS = 5.0
TITLE = "Performance: scaling"


def main() -> None:
    arguments = parse_arguments()
    if arguments.worker:
        run_worker(arguments.worker, Path(arguments.spec), arguments.repeat)
        return

    machine = common.machine_description()
    results = []
    with tempfile.TemporaryDirectory(prefix="cnndsl-scaling-") as directory:
        for shape in arguments.shapes:
            for size in arguments.sizes:
                path = Path(directory) / f"{shape}{size}.cnn"
                path.write_text(specs.GENERATORS[shape](size), encoding="utf-8")
                results.append(measure_spec(shape, size, path))

    body = report(machine, results, arguments.sizes)
    common.publish(TITLE, body, arguments.report)


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=_sizes, default=list(DEFAULT_SIZES), metavar="LIST",
                        help="comma-separated layer counts (default: 1000,10000,100000)")
    parser.add_argument("--shapes", type=_shapes, default=list(specs.GENERATORS), metavar="LIST",
                        help=f"comma-separated spec shapes (default: {','.join(specs.GENERATORS)})")
    common.add_report_option(parser)
    parser.add_argument("--worker", choices=("time", "memory"), help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=1, help=argparse.SUPPRESS)
    return parser.parse_args()


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid size list {text!r}; write whole numbers such as 1000,10000")
    if any(size < specs.MINIMUM_LAYERS for size in sizes):
        raise argparse.ArgumentTypeError(f"every size must be at least {specs.MINIMUM_LAYERS} layers")
    return sizes


def _shapes(text: str) -> list[str]:
    shapes = text.split(",")
    unknown = [shape for shape in shapes if shape not in specs.GENERATORS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown shape {', '.join(unknown)}; choose from "
                                         f"{', '.join(specs.GENERATORS)}")
    return shapes


# ---- The parent: child processes per spec -------------------------------------------


def measure_spec(shape: str, size: int, path: Path) -> dict:
    """Run the timing worker, the memory worker and `cnndsl check` on one generated spec."""
    timing = _worker("time", path, _repetitions(size))
    memory = _worker("memory", path, 1)

    command = [*common.cnndsl_command(), "check", str(path)]
    process_runs = 3 if size <= 10_000 else 1
    runs = [common.run_process(command, common.child_environment()) for _ in range(process_runs)]
    for run in runs:
        common.require_success(run, " ".join(command))
    if f": ok: {size} layers" not in runs[0].stdout:
        raise SystemExit(f"cnndsl check counted other than {size:,} layers: {runs[0].stdout}")

    result = {
        "shape": shape, "layers": size, "time": timing, "memory": memory,
        "check_wall": common.median([run.wall_seconds for run in runs]),
        "check_cpu": common.median([run.cpu_seconds for run in runs]),
        "check_rss": max(run.max_rss_mib for run in runs),
    }
    if accelerator() is not None:
        # The same command as an install without the `fast` extra runs it.
        pure_runs = [common.run_process(command, common.child_environment(**{PURE_PARSER_VARIABLE: "1"}))
                     for _ in range(process_runs)]
        for run in pure_runs:
            common.require_success(run, " ".join(command))
        result["check_wall_pure"] = common.median([run.wall_seconds for run in pure_runs])
    print(f"{shape} {size:,}: " + ", ".join(f"{phase} {common.seconds(timing[phase])}" for phase in PHASES)
          + f"; cnndsl check {common.seconds(result['check_wall'])}", flush=True)
    return result


def _repetitions(size: int) -> int:
    """Return how many times the timing worker repeats the phases: fewer for larger specs, which vary less."""
    if size <= 1_000:
        return 5
    if size <= 10_000:
        return 3
    return 1


def _worker(mode: str, path: Path, repeat: int) -> dict:
    argv = [sys.executable, str(Path(__file__).resolve()), "--worker", mode, "--spec", str(path),
            "--repeat", str(repeat)]
    run = common.run_process(argv, common.child_environment())
    common.require_success(run, f"the {mode} worker on {path.name}")
    result = json.loads(run.stdout.strip().splitlines()[-1])
    result["max_rss_mib"] = run.max_rss_mib
    return result


# ---- The worker: the phases in one process ------------------------------------------------


def run_worker(mode: str, path: Path, repeat: int) -> None:
    """Print one JSON line: the median seconds (time) or peak MiB (memory) of each phase."""
    from cnndsl.parser import parse
    from cnndsl.syntax import Source

    parse(Source("warm-up.cnn", "input 4\ndense 2\n"))  # loads the parser, which every later parse reuses
    source = Source(str(path), path.read_text(encoding="utf-8"))
    measure = _timed if mode == "time" else _traced
    rounds = [_run_phases(source, measure) for _ in range(repeat)]
    result = {phase: common.median([values[phase] for values in rounds]) for phase in PHASES}
    result["dot_megabytes"] = rounds[-1]["dot_megabytes"]
    if mode == "time":
        result["lark"] = common.median([_lark_alone(source.text) for _ in range(repeat)])
    print(json.dumps(result))


def _lark_alone(text: str) -> float:
    """Return the seconds that Lark takes to lex and parse `text` with callbacks that build nothing.

    This is the part of the parse phase that cnndsl's own code cannot speed up:
    the rest builds the syntax nodes. It uses lark-cython when cnndsl does.
    """
    import lark

    from cnndsl import parser
    from cnndsl.pipeline import collector_paused

    discard = type("Discard", (), {rule: staticmethod(lambda children: None) for rule in parser._RULES})()
    plugin = parser.accelerator()
    plugins = {"_plugins": plugin.plugins} if plugin is not None else {}
    bare = lark.Lark(parser.grammar_text(), **parser.PARSER_OPTIONS, transformer=discard, **plugins)
    with collector_paused():
        _, seconds = _timed(lambda: bare.parse(text + "\n"))
    return seconds


def _run_phases(source, measure: Callable[[Callable[[], object]], tuple[object, float]]) -> dict[str, float]:
    from cnndsl.backends.graphviz_backend import to_dot
    from cnndsl.checker import check
    from cnndsl.errors import Severity
    from cnndsl.parser import parse
    from cnndsl.pipeline import collector_paused
    from cnndsl.resolve import resolve
    from cnndsl.summary import summary_table

    def check_phase():
        network, diagnostics = resolve(spec)
        diagnostics += check(network)
        errors = [d.message for d in diagnostics if d.severity is Severity.ERROR]
        if errors:
            raise SystemExit(f"the generated spec has errors: {errors[:3]}")
        return network

    figures = {}
    with collector_paused():
        spec, figures["parse"] = measure(lambda: parse(source))
        network, figures["check"] = measure(check_phase)
    dot, figures["dot"] = measure(lambda: to_dot(network))
    _, figures["summary"] = measure(lambda: summary_table(network))
    figures["dot_megabytes"] = len(dot.encode("utf-8")) / 1e6
    return figures


def _timed(phase: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    result = phase()
    return result, time.perf_counter() - start


def _traced(phase: Callable[[], object]) -> tuple[object, float]:
    """Run `phase` under tracemalloc and return its result and its peak in MiB above the memory held before it."""
    if not tracemalloc.is_tracing():
        tracemalloc.start()
    tracemalloc.reset_peak()
    before, _ = tracemalloc.get_traced_memory()
    result = phase()
    _, peak = tracemalloc.get_traced_memory()
    return result, (peak - before) / 2**20


# ---- The report ---------------------------------------------------------------------------


def report(machine: dict[str, str], results: list[dict], sizes: list[int]) -> str:
    time_rows = [[r["shape"], f"{r['layers']:,}", *(common.seconds(r["time"][phase]) for phase in PHASES),
                  f"{(r['time']['parse'] + r['time']['check']) / r['layers'] * 1e6:.0f} µs",
                  common.seconds(r["check_wall"]), common.seconds(r["check_cpu"]), f"{r['check_rss']:.0f} MiB"]
                 for r in results]
    memory_rows = [[r["shape"], f"{r['layers']:,}", *(f"{r['memory'][phase]:.1f} MiB" for phase in PHASES),
                    f"{r['time']['dot_megabytes']:.1f} MB"]
                   for r in results]
    return f"""
{common.machine_markdown(machine, common.command_line())}

Seconds per phase, in one worker process (median of 5 runs at 1,000 layers,
3 at 10,000, 1 at 100,000), and the whole `cnndsl check SPEC` process
(median of 3 runs up to 10,000 layers, 1 at 100,000):

{common.markdown_table(
        ["spec", "layers", "parse", "check", "DOT", "summary", "parse + check per layer",
         "`cnndsl check` wall", "its CPU", "its max RSS"], time_rows)}

Memory: the tracemalloc peak of each phase above the memory held before it,
and the size of the DOT source:

{common.markdown_table(["spec", "layers", "parse", "check", "DOT", "summary", "DOT source"], memory_rows)}

Growth from one size to the next (time ratio; a linear phase gives about
the ratio of the sizes):

{_growth_table(results, sizes)}

{_goal_lines(results)}
"""


def _growth_table(results: list[dict], sizes: list[int]) -> str:
    rows = []
    for shape in dict.fromkeys(r["shape"] for r in results):
        by_size = {r["layers"]: r for r in results if r["shape"] == shape}
        for smaller, larger in zip(sizes, sizes[1:]):
            low, high = by_size[smaller], by_size[larger]
            cells = [f"{high['time'][phase] / low['time'][phase]:.1f}" for phase in PHASES]
            cells.append(f"{high['check_wall'] / low['check_wall']:.1f}")
            rows.append([shape, f"{smaller:,} → {larger:,} ({larger / smaller:.0f}x)", *cells])
    return common.markdown_table(["spec", "sizes", "parse", "check", "DOT", "summary", "`cnndsl check`"], rows)


def _goal_lines(results: list[dict]) -> str:
    largest = [r for r in results if r["layers"] == GOAL_LAYERS]
    if not largest:
        return f"The goal concerns {GOAL_LAYERS:,} layers, which this run did not measure."
    lines = [f"- {r['shape']}: `cnndsl check` took {common.seconds(r['check_wall'])} "
             f"(goal of under {GOAL_SECONDS:g} s: {common.goal(r['check_wall'] < GOAL_SECONDS)})."
             for r in largest]
    lines += [f"- {r['shape']}: without lark-cython (`{PURE_PARSER_VARIABLE}=1`), `cnndsl check` took "
              f"{common.seconds(r['check_wall_pure'])} (goal: {common.goal(r['check_wall_pure'] < GOAL_SECONDS)})."
              for r in largest if "check_wall_pure" in r]
    lines += [f"- {r['shape']}: of the parse phase's {common.seconds(r['time']['parse'])}, Lark "
              f"(lexing and LALR parsing with callbacks that build nothing) took {common.seconds(r['time']['lark'])}."
              for r in largest]
    return "\n".join(["No phase raised RecursionError at any size.", *lines])


if __name__ == "__main__":
    main()

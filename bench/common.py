"""Shared helpers of the performance benchmarks: processes, statistics, the machine and the report.

Each benchmark script replaces its own `## Performance: ...` section of
docs/benchmarks.md. A section runs from its heading to the next `## `
heading, so the sections that other scripts write stay as they are.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REPORT = REPO / "docs" / "benchmarks.md"
EXAMPLES = REPO / "examples"
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class ProcessRun:
    """One finished child process: wall and CPU seconds, peak memory and its output."""

    wall_seconds: float
    cpu_seconds: float  # user + system time of the child
    max_rss_mib: float
    returncode: int
    stdout: str
    stderr: str


def run_process(argv: list[str], env: dict[str, str] | None = None, cwd: Path = REPO) -> ProcessRun:
    """Run `argv` to completion and measure it with os.wait4, which reports the child's own resource use."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        process = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=cwd, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return ProcessRun(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, process.returncode,
                          out.read(), err.read())


def cnndsl_command() -> list[str]:
    """Return the `cnndsl` console script of this interpreter's environment, as users start it."""
    script = BIN / "cnndsl"
    return [str(script)] if script.exists() else [sys.executable, "-m", "cnndsl"]


def child_environment(**overrides: str) -> dict[str, str]:
    """Return this process's environment with TensorFlow's start-up logging turned down, plus `overrides`."""
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.update(overrides)
    return env


def require_success(run: ProcessRun, description: str) -> None:
    if run.returncode != 0:
        raise SystemExit(f"{description} failed with exit code {run.returncode}:\n{run.stderr[-3000:]}")


# ---- Statistics and formatting ------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values)


def seconds(value: float) -> str:
    """Format a duration with three significant digits: 0.281 s, 12.4 s, 3.2 ms."""
    if value < 0.01:
        return f"{value * 1000:.2g} ms" if value < 0.001 else f"{value * 1000:.1f} ms"
    return f"{value:.3g} s"


def ratio(value: float) -> str:
    return f"{value:.1f}x" if value >= 10 else f"{value:.2f}x"


def faster_or_slower(candidate: float, reference: float) -> str:
    """Describe the duration `candidate` against `reference`: `3.2x faster` or `1.5x slower`."""
    if candidate <= reference:
        return f"{ratio(reference / candidate)} faster"
    return f"{ratio(candidate / reference)} slower"


def goal(met: bool) -> str:
    return "met" if met else "**not met**"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# ---- The machine ------------------------------------------------------------------


def machine_description() -> dict[str, str]:
    """Describe the machine and the software versions behind a measurement, without importing TensorFlow."""
    return {
        "CPUs": str(len(os.sched_getaffinity(0))),
        "CPU model": _cpu_model(),
        "Python": platform.python_version(),
        "TensorFlow": package_version("tensorflow") or "not installed",
        "Keras": package_version("keras") or "not installed",
        "Lark": package_version("lark") or "not installed",
        "parser": parser_description(),
        "Graphviz": _dot_version(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load average": "{:.2f}, {:.2f}, {:.2f}".format(*os.getloadavg()),
        "speed probe": f"{_speed_probe_us():.0f} µs",
    }


def parser_description() -> str:
    """Name the parser that cnndsl uses here: Lark alone, or Lark with lark-cython (see cnndsl.parser.accelerator)."""
    from cnndsl.parser import accelerator

    if accelerator() is None:
        return "Lark alone"
    return f"Lark with lark-cython {package_version('lark-cython')}"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def package_version(package: str) -> str | None:
    """Return the installed version of `package`, or None when it is not installed."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _dot_version() -> str:
    try:
        result = subprocess.run(["dot", "-V"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    return result.stderr.strip().removeprefix("dot - graphviz version ") or "unknown"


def _speed_probe_us() -> float:
    """Return the best time of `sum(range(1000))` in microseconds, to compare the speed of machines."""
    timer = timeit.Timer("sum(range(1000))")
    loops = 2000
    return min(timer.repeat(repeat=7, number=loops)) / loops * 1e6


def machine_markdown(machine: dict[str, str], command: str) -> str:
    """Return the command and machine lines that open every section."""
    return (
        f"Command: `{command}`\n\n"
        f"Machine: {machine['CPUs']} CPUs ({machine['CPU model']}), Python {machine['Python']}, "
        f"TensorFlow {machine['TensorFlow']}, Keras {machine['Keras']}, Lark {machine['Lark']}, "
        f"Graphviz {machine['Graphviz']}; parser: {machine.get('parser', 'not recorded')}; "
        f"measured {machine['date']}. "
        f"Load average at the start: {machine['load average']} (1, 5 and 15 minutes). "
        f"Speed probe: `sum(range(1000))` takes {machine['speed probe']} in this Python."
    )


def command_line() -> str:
    """Return the command that started this script, relative to the repository, for the report."""
    script = Path(sys.argv[0]).resolve()
    try:
        relative = script.relative_to(REPO)
    except ValueError:
        relative = script
    return shlex.join(["python", str(relative), *sys.argv[1:]])


# ---- The report ----------------------------------------------------------------------


def add_report_option(parser: argparse.ArgumentParser) -> None:
    """Add `--no-report`, which sets `report` to False."""
    parser.add_argument("--no-report", dest="report", action="store_false",
                        help="print the figures without writing docs/benchmarks.md")


def publish(title: str, body: str, report: bool) -> None:
    """Print a section's body, and write it to docs/benchmarks.md when `report` is true."""
    print(body)
    if report:
        write_section(title, body)


def write_section(title: str, body: str, report: Path = REPORT) -> None:
    """Replace the section `## {title}` of `report`, or append it, keeping every other section."""
    heading = f"## {title}"
    section = f"{heading}\n\n{body.strip()}\n"
    text = report.read_text(encoding="utf-8") if report.exists() else "# Benchmarks\n"
    lines = text.splitlines()
    start = next((index for index, line in enumerate(lines) if line.strip() == heading), None)
    if start is None:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = next((index for index in range(start + 1, len(lines)) if lines[index].startswith("## ")), len(lines))
        before = "\n".join(lines[:start]).rstrip("\n")
        after = "\n".join(lines[end:]).strip("\n")
        text = section
        if before:
            text = before + "\n\n" + text
        if after:
            text = text + "\n" + after + "\n"

    # Write a temporary file and rename it, so that a reader never sees half a report.
    temporary = report.with_name(f".{report.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, report)
    print(f"wrote the section \"{title}\" of {report}")

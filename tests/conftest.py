"""Shared fixtures: paths of the repository and a runner for the real `cnndsl` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def run_cnndsl(*arguments: str, cwd: Path | None = None, stdin: str | None = None,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run `python -m cnndsl ARGUMENTS` as a separate process and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "cnndsl", *arguments],
        cwd=cwd, input=stdin, capture_output=True, text=True, env=env, timeout=600,
    )


@pytest.fixture
def cnndsl():
    return run_cnndsl

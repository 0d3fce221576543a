"""Output files: a compile that fails part-way leaves the earlier outputs intact and no temporary files.

tests/test_cli.py covers a missing input, a directory as input, an input that
an output would overwrite, a read-only directory (skipped as root) and a spec
error. These tests add failures in the middle of writing: Keras failing to
save its file (a file size limit in a real process, and a full disk in this
one), and other ways an output directory can be unusable.
"""

from __future__ import annotations

import errno
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from cnndsl.driver import CompileOptions, compile_spec
from cnndsl.outputs import OutputError
from cnndsl.syntax import Source
from conftest import run_cnndsl

# A dense layer of 614,700 parameters makes a .keras file of about 2.4 MB,
# while the Python source and the DOT file stay a few kilobytes.
SPEC = "input 16x16x3\nconv 8 k3 same\nflatten\ndense 300\n"
CHANGED_SPEC = SPEC.replace("dense 300", "dense 301")


def snapshot(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def compile_with_file_size_limit(spec: Path, out: Path, limit: int) -> subprocess.CompletedProcess:
    """Run `cnndsl compile` in a process that cannot write files larger than `limit` bytes."""
    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {**os.environ, "CNNDSL_CACHE_DIR": ""}  # the parser cache file would hit the limit as well
    return subprocess.run([sys.executable, "-m", "cnndsl", "compile", str(spec), "-o", str(out), "--format", "dot"],
                          preexec_fn=limit_file_size, capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture
def compiled(tmp_path) -> tuple[Path, Path, dict[str, bytes]]:
    """A spec compiled once to every target, and a snapshot of its outputs."""
    spec = tmp_path / "net.cnn"
    spec.write_text(SPEC, encoding="utf-8")
    out = tmp_path / "out"
    first = run_cnndsl("compile", str(spec), "-o", str(out), "--format", "dot")
    assert first.returncode == 0, first.stderr
    assert sorted(snapshot(out)) == ["net.dot", "net.keras", "net.py"]
    return spec, out, snapshot(out)


def test_keras_save_failure_keeps_earlier_outputs(compiled):
    spec, out, before = compiled
    spec.write_text(CHANGED_SPEC, encoding="utf-8")

    result = compile_with_file_size_limit(spec, out, limit=200_000)

    assert result.returncode == 1, result.stderr
    assert "cannot save the Keras model net.keras" in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(out) == before  # same files, same bytes, no temporary files


def test_disk_full_leaves_no_temporaries(tmp_path, monkeypatch):
    from cnndsl.backends import keras_backend

    def save_fails(model, path):
        Path(path).write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(keras_backend, "build_model", lambda network: object())
    monkeypatch.setattr(keras_backend, "save_model", save_fails)
    (tmp_path / "net.py").write_text("earlier output\n", encoding="utf-8")

    with pytest.raises(OutputError, match="No space left on device"):
        compile_spec(Source("net.cnn", SPEC), CompileOptions(output_dir=tmp_path, targets=("python", "keras")))

    assert snapshot(tmp_path) == {"net.py": b"earlier output\n"}


def test_spec_error_after_success_keeps_every_output(compiled):
    spec, out, before = compiled
    spec.write_text("input 16x16x3\nconv 8 k30\n", encoding="utf-8")

    result = run_cnndsl("compile", str(spec), "-o", str(out), "--format", "dot")

    assert result.returncode == 1
    assert snapshot(out) == before


def test_output_directory_below_a_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    spec = tmp_path / "net.cnn"
    spec.write_text(SPEC, encoding="utf-8")

    result = run_cnndsl("compile", str(spec), "-o", str(blocker / "sub"), "--targets", "python")

    assert result.returncode == 1
    assert "cannot create the output directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_diagram_would_overwrite_the_input(tmp_path):
    spec = tmp_path / "net.dot"
    spec.write_text(SPEC, encoding="utf-8")

    result = run_cnndsl("compile", str(spec), "-o", str(tmp_path), "--targets", "python,graphviz",
                        "--format", "dot")

    assert result.returncode == 1
    assert "would overwrite the input" in result.stderr
    assert spec.read_text(encoding="utf-8") == SPEC
    assert sorted(path.name for path in tmp_path.iterdir()) == ["net.dot"]

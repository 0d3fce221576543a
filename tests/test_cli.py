"""The `cnndsl` command as a user runs it: real processes, real files, real Keras."""

from __future__ import annotations

import os
import sys

import pytest

from conftest import EXAMPLES, run_cnndsl

LENET = EXAMPLES / "lenet.cnn"


@pytest.fixture(scope="module")
def compiled_lenet(tmp_path_factory):
    out = tmp_path_factory.mktemp("lenet")
    result = run_cnndsl("compile", str(LENET), "-o", str(out))
    return result, out


def test_compile_lenet_exit_code(compiled_lenet):
    result, _ = compiled_lenet
    assert result.returncode == 0, result.stderr


def test_compile_lenet_writes_outputs(compiled_lenet):
    _, out = compiled_lenet
    assert sorted(path.name for path in out.iterdir()) == ["lenet.dot", "lenet.keras", "lenet.py", "lenet.svg"]


def test_compile_lenet_prints_summary(compiled_lenet):
    result, _ = compiled_lenet
    assert "Total params: 61,706" in result.stdout
    assert "(None, 10)" in result.stdout


def test_compiled_keras_file_loads(compiled_lenet):
    _, out = compiled_lenet
    import keras

    model = keras.saving.load_model(out / "lenet.keras")
    assert model.count_params() == 61706
    assert tuple(model.output.shape) == (None, 10)


def test_compile_leaves_no_temporary_files(compiled_lenet):
    _, out = compiled_lenet
    assert not [path for path in out.iterdir() if path.name.startswith(".")]


def test_check_valid_spec():
    result = run_cnndsl("check", str(LENET))
    assert result.returncode == 0
    assert "61,706 parameters" in result.stdout
    assert result.stderr == ""


def test_check_invalid_spec_exit_code(tmp_path):
    spec = tmp_path / "bad.cnn"
    spec.write_text("input 3x3x1\nconv 8 k5\n")

    result = run_cnndsl("check", str(spec))

    assert result.returncode == 1
    assert f"{spec}:2:1: error: conv k5 needs an input of at least 5x5 but receives 3x3" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_reads_standard_input():
    result = run_cnndsl("check", "-", stdin="input 8\ndense 2\n")
    assert result.returncode == 0
    assert "<stdin>: ok" in result.stdout


def test_check_stdin_error_names_stdin():
    result = run_cnndsl("check", "-", stdin="input 8\ndense 0\n")
    assert result.returncode == 1
    assert "<stdin>:2:7: error:" in result.stderr


def test_summary_lists_every_layer():
    result = run_cnndsl("summary", str(LENET))
    assert result.returncode == 0
    for name in ("conv1", "maxpool1", "conv2", "maxpool2", "flatten1", "dense1", "dense2", "dense3"):
        assert name in result.stdout
    assert "(None, 5, 5, 16)" in result.stdout


def test_warning_goes_to_stderr(tmp_path):
    spec = tmp_path / "warn.cnn"
    spec.write_text("input 8x8x3\ndense 4\n")

    result = run_cnndsl("check", str(spec))

    assert result.returncode == 0
    assert f"{spec}:2:1: warning:" in result.stderr


def test_usage_error_exit_code():
    result = run_cnndsl("compile", str(LENET), "--style", "baroque")
    assert result.returncode == 2


def test_unknown_target_is_usage_error():
    result = run_cnndsl("compile", str(LENET), "--targets", "keras,onnx")
    assert result.returncode == 2
    assert "onnx" in result.stderr


def test_missing_input_file(tmp_path):
    result = run_cnndsl("check", str(tmp_path / "absent.cnn"))
    assert result.returncode == 1
    assert "no such file" in result.stderr
    assert "Traceback" not in result.stderr


def test_directory_as_input(tmp_path):
    result = run_cnndsl("check", str(tmp_path))
    assert result.returncode == 1
    assert "is a directory" in result.stderr


def test_non_utf8_input(tmp_path):
    spec = tmp_path / "latin1.cnn"
    spec.write_bytes(b"input 8\n# caf\xe9\ndense 2\n")

    result = run_cnndsl("check", str(spec))

    assert result.returncode == 1
    assert "not UTF-8" in result.stderr


def test_output_never_overwrites_input(tmp_path):
    spec = tmp_path / "net.py"
    spec.write_text("input 8\ndense 2\n")

    result = run_cnndsl("compile", str(spec), "-o", str(tmp_path), "--targets", "python")

    assert result.returncode == 1
    assert "would overwrite the input" in result.stderr
    assert spec.read_text() == "input 8\ndense 2\n"


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root can write to read-only directories")
def test_unwritable_output_directory(tmp_path):
    out = tmp_path / "locked"
    out.mkdir()
    out.chmod(0o500)

    result = run_cnndsl("compile", str(LENET), "-o", str(out), "--targets", "python")

    assert result.returncode == 1
    assert "cannot write" in result.stderr


def test_output_path_is_a_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")

    result = run_cnndsl("compile", str(LENET), "-o", str(blocker), "--targets", "python")

    assert result.returncode == 1
    assert "not a directory" in result.stderr


def test_failed_compile_keeps_earlier_outputs(tmp_path):
    spec = tmp_path / "net.cnn"
    spec.write_text("input 8\ndense 2\n")
    first = run_cnndsl("compile", str(spec), "-o", str(tmp_path), "--targets", "python")
    assert first.returncode == 0
    before = (tmp_path / "net.py").read_bytes()

    spec.write_text("input 8\ndense 0\n")
    second = run_cnndsl("compile", str(spec), "-o", str(tmp_path), "--targets", "python")

    assert second.returncode == 1
    assert (tmp_path / "net.py").read_bytes() == before


def test_compile_dot_format_only(tmp_path):
    result = run_cnndsl("compile", str(LENET), "-o", str(tmp_path), "--targets", "graphviz", "--format", "dot")
    assert result.returncode == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == ["lenet.dot"]


@pytest.mark.parametrize("style", ["sequential", "functional", "subclass"])
def test_compile_python_styles(tmp_path, style):
    result = run_cnndsl("compile", str(LENET), "-o", str(tmp_path), "--targets", "python", "--style", style)
    assert result.returncode == 0, result.stderr
    assert "def build_model" in (tmp_path / "lenet.py").read_text()


def test_stdin_outputs_named_after_network(tmp_path):
    result = run_cnndsl("compile", "-", "-o", str(tmp_path), "--targets", "python",
                        stdin="network Tiny\ninput 8\ndense 2\n")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "Tiny.py").exists()


def test_missing_dot_still_writes_dot_file(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    env = {**os.environ, "PATH": str(bin_dir)}
    out = tmp_path / "out"

    result = run_cnndsl("compile", str(LENET), "-o", str(out), "--targets", "graphviz", env=env)

    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in out.iterdir()) == ["lenet.dot"]
    assert "install Graphviz" in result.stderr or "graphviz" in result.stderr.lower()

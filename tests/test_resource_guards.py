"""The memory guard: a Keras model above the limit is refused with its estimate, before TensorFlow starts."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from cnndsl.errors import CnnDslError
from cnndsl.memory_guard import (
    DEFAULT_MAX_MEMORY, check_memory, estimate_memory, format_memory, parse_memory_size,
)
from cnndsl.pipeline import analyse_text
from conftest import EXAMPLES, run_cnndsl

# 100,000 x 100,000 weights plus 100,000 biases: 10,000,100,000 parameters, about 37 GiB.
HUGE_SPEC = "input 100000\ndense 100000\n"


@pytest.mark.parametrize("text, expected", [
    ("8GiB", 8 * 2**30), ("500MB", 500 * 10**6), ("1.5GB", 1_500_000_000), ("1000", 1000), ("64 KiB", 65536),
    ("2gib", 2 * 2**30), ("1TB", 10**12),
])
def test_parse_memory_size(text, expected):
    assert parse_memory_size(text) == expected


@pytest.mark.parametrize("text", ["", "0", "0.1B", "-1GB", "8 GiBs", "eight", "1e9", "GiB"])
def test_parse_memory_size_rejects(text):
    with pytest.raises(ValueError, match="invalid memory size"):
        parse_memory_size(text)


def test_estimate_of_lenet():
    network = analyse_text((EXAMPLES / "lenet.cnn").read_text(encoding="utf-8"), "lenet.cnn").network

    estimate = estimate_memory(network)

    assert estimate.parameter_bytes == 61_706 * 4
    activations = sum(size for node in network.nodes for size in [4 * _values(network.output_shape(node.name))])
    assert estimate.activation_bytes == activations


def _values(shape) -> int:
    count = 1
    for size in shape:
        count *= size
    return count


def test_check_memory_refuses_at_the_largest_layer():
    network = analyse_text("input 100\ndense 10\ndense 100000\ndense 2\n", "big.cnn").network

    with pytest.raises(CnnDslError) as raised:
        check_memory(network, limit=2**20)

    (error,) = raised.value.errors
    assert (error.span.line, error.span.column) == (3, 1)
    # 1,301,012 parameters and 100,112 activation values, 4 bytes each: 5,604,496 bytes.
    assert "estimated 5.34 MiB" in error.message
    assert "more than the limit of 1.00 MiB" in error.message
    assert "--max-memory 6MiB" in error.fix


def test_check_memory_accepts_below_the_limit():
    network = analyse_text("input 100\ndense 10\n", "small.cnn").network

    assert check_memory(network, DEFAULT_MAX_MEMORY).total_bytes == (1010 + 100 + 10) * 4


def test_format_memory():
    assert format_memory(4 * 2**30) == "4.00 GiB"
    assert format_memory(512) == "512 B"
    assert format_memory(1536) == "1.50 KiB"


def test_huge_model_is_refused_without_tensorflow(tmp_path):
    spec = tmp_path / "huge.cnn"
    spec.write_text(HUGE_SPEC, encoding="utf-8")
    probe = (
        "import sys\n"
        "from cnndsl.cli import main\n"
        f"code = main(['compile', {str(spec)!r}, '-o', {str(tmp_path / 'out')!r}])\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules, code)\n"
    )

    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    elapsed = time.perf_counter() - start

    assert result.stdout.split() == ["False", "False", "1"], result.stderr
    assert "10,000,100,000 parameters" in result.stderr
    assert "--max-memory 41GiB" in result.stderr
    assert f"{spec}:2:1: error: building the Keras model needs an estimated 37.25 GiB" in result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert elapsed < 60, f"took {elapsed:.1f} s"


def test_check_of_a_huge_model_is_fine():
    result = run_cnndsl("check", "-", stdin=HUGE_SPEC)

    assert result.returncode == 0, result.stderr
    assert "10,000,100,000 parameters" in result.stdout


def test_max_memory_option_lowers_and_raises_the_limit(tmp_path):
    lenet = str(EXAMPLES / "lenet.cnn")

    refused = run_cnndsl("compile", lenet, "-o", str(tmp_path), "--targets", "keras", "--max-memory", "100KB")
    allowed = run_cnndsl("compile", lenet, "-o", str(tmp_path), "--targets", "keras", "--max-memory", "1MiB")

    assert refused.returncode == 1
    assert "more than the limit of 97.66 KiB" in refused.stderr
    assert allowed.returncode == 0, allowed.stderr
    assert (tmp_path / "lenet.keras").exists()


def test_python_and_graphviz_targets_are_not_limited(tmp_path):
    result = run_cnndsl("compile", "-", "-o", str(tmp_path), "--targets", "python,graphviz", "--format", "dot",
                        stdin=HUGE_SPEC)

    assert result.returncode == 0, result.stderr


def test_invalid_max_memory_is_a_usage_error():
    result = run_cnndsl("compile", str(EXAMPLES / "lenet.cnn"), "--max-memory", "lots")

    assert result.returncode == 2
    assert "invalid memory size 'lots'" in result.stderr


def test_train_refuses_a_huge_model_before_loading_tensorflow(tmp_path):
    spec = tmp_path / "huge.cnn"
    spec.write_text(HUGE_SPEC)
    script = ("import sys\nfrom cnndsl.cli import main\ncode = main(sys.argv[1:])\n"
              "print('tensorflow loaded:', 'tensorflow' in sys.modules)\nsys.exit(code)\n")

    result = subprocess.run([sys.executable, "-c", script, "train", str(spec), "-o", str(tmp_path / "out"),
                             "--epochs", "1"], capture_output=True, text=True, timeout=300)

    assert result.returncode == 1
    assert "huge.cnn:" in result.stderr
    assert "more than the limit of 4.00 GiB" in result.stderr
    assert "--max-memory" in result.stderr
    assert "--targets" not in result.stderr
    assert "tensorflow loaded: False" in result.stdout
    assert not (tmp_path / "out").exists()
    assert "Traceback" not in result.stderr


def test_train_max_memory_option(tmp_path):
    result = run_cnndsl("train", str(EXAMPLES / "lenet.cnn"), "-o", str(tmp_path), "--max-memory", "100KB")

    assert result.returncode == 1
    assert "more than the limit of 97.66 KiB" in result.stderr

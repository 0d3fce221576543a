"""Parameter and activation memory on graphs small enough to check by hand."""

from __future__ import annotations

import json

import pytest

from cnndsl.analysis import analyse_network
from cnndsl.analysis.memory import memory_report
from cnndsl.pipeline import analyse_text
from conftest import EXAMPLES, run_cnndsl

# Two branches from `a`, pooled and joined. In float32:
#   input 4x4x1 = 64 B, a 4x4x2 = 128 B, p 2x2x2 = 32 B, b 4x4x2 = 128 B,
#   q 2x2x2 = 32 B, concat 2x2x4 = 64 B.
# Alive while each runs: input 64; a 64 + 128 = 192 (input is freed after);
# p 128 + 32 = 160; b 160 + 128 = 288 (a is freed after); q 32 + 128 + 32 =
# 192 (b is freed after); concat 32 + 32 + 64 = 128.
BRANCHES = """
input 4x4x1
conv 2 k1 -> a
maxpool 2 -> p
a > conv 2 k1 > maxpool 2 -> q
concat(p, q)
"""

LIVE_BYTES = {"input": 64, "a": 192, "p": 160, "conv2": 288, "q": 192, "concat1": 128}


def _report(text: str, dtype: str = "float32"):
    return memory_report(analyse_text(text).network, dtype)


def test_live_bytes_follow_schedule():
    assert _report(BRANCHES).live_bytes == LIVE_BYTES


def test_peak_is_largest_live_set():
    report = _report(BRANCHES)
    assert report.peak_bytes == 288
    assert report.peak_node == "conv2"


def test_sum_counts_every_output():
    assert _report(BRANCHES).total_activation_bytes == 64 + 128 + 32 + 128 + 32 + 64


def test_float16_halves_every_count():
    report = _report(BRANCHES, "float16")
    assert report.peak_bytes == 144
    assert report.total_activation_bytes == 224
    assert report.parameter_bytes == 10 * 2


def test_parameter_bytes_by_dtype():
    network = analyse_text((EXAMPLES / "lenet.cnn").read_text()).network
    assert memory_report(network, "float32").parameter_bytes == 61_706 * 4
    assert memory_report(network, "float64").parameter_bytes == 61_706 * 8
    assert memory_report(network, "bfloat16").parameter_bytes == 61_706 * 2


def test_network_outputs_are_kept():
    # `a` is an output, so it stays alive after its last reader `b` (64 B
    # input, 128 B per conv output).
    report = _report("input 4x4x1\nconv 2 k1 -> a\nconv 2 k1 -> b\nconv 2 k1 -> c\noutput a, c\n")
    assert report.live_bytes == {"input": 64, "a": 192, "b": 256, "c": 384}


def test_layer_reaching_no_output_is_left_out():
    # Keras leaves `side` out of the model, so it takes no memory.
    report = _report("input 4x4x1\nconv 2 k1 -> side\ninput > conv 2 k1 -> main\noutput main\n")
    assert report.live_bytes == {"input": 64, "main": 192}


def test_batch_size_scales_json_totals(tmp_path):
    spec = tmp_path / "branches.cnn"
    spec.write_text(BRANCHES)

    result = run_cnndsl("summary", str(spec), "--format", "json", "--batch-size", "8")

    assert result.returncode == 0, result.stderr
    activations = json.loads(result.stdout)["totals"]["activation_bytes"]
    assert activations == {"peak_per_sample": 288, "peak_per_batch": 2304, "sum_per_sample": 448,
                           "sum_per_batch": 3584, "peak_layer": "conv2"}


def test_text_summary_shows_memory_totals(tmp_path):
    spec = tmp_path / "branches.cnn"
    spec.write_text(BRANCHES)

    result = run_cnndsl("summary", str(spec), "--dtype", "float16", "--batch-size", "4")

    assert result.returncode == 0, result.stderr
    assert "Parameter memory: 20.00 B (float16, 2 bytes per value)" in result.stdout
    assert "Activation memory per sample: peak 144.00 B while `conv2` runs, sum of all outputs 224.00 B" \
        in result.stdout
    assert "Activation memory per batch of 4: peak 576.00 B" in result.stdout


def test_invalid_batch_size_is_usage_error():
    result = run_cnndsl("summary", str(EXAMPLES / "lenet.cnn"), "--batch-size", "0")
    assert result.returncode == 2
    assert "give 1 or more" in result.stderr


@pytest.mark.parametrize("dtype", ["float8", "int8"])
def test_unknown_dtype_is_usage_error(dtype):
    result = run_cnndsl("summary", str(EXAMPLES / "lenet.cnn"), "--dtype", dtype)
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_analysis_rejects_unknown_dtype():
    with pytest.raises(ValueError, match="unknown dtype"):
        analyse_network(analyse_text(BRANCHES).network, "float8")

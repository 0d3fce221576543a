"""`cnndsl summary` as text, JSON and CSV: stable keys, parseable rows, readable columns."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest
from conftest import EXAMPLES, run_cnndsl

LENET = EXAMPLES / "lenet.cnn"
RESNET = EXAMPLES / "resnet50.cnn"

TOP_KEYS = {"format", "version", "network", "source", "dtype", "bytes_per_value", "batch_size", "layers", "blocks",
            "totals", "outputs"}
LAYER_KEYS = {"name", "class", "kind", "inputs", "output_shape", "params", "macs", "flops", "activation_bytes",
              "live_bytes", "receptive_field", "scope", "line", "formulas"}
FIELD_KEYS = {"input", "kind", "size", "jump", "start", "reason"}
BLOCK_KEYS = {"name", "block", "scope", "layers", "params", "macs", "flops"}
TOTAL_KEYS = {"params", "macs", "flops", "parameter_bytes", "activation_bytes"}


def _json(spec, *options) -> dict:
    result = run_cnndsl("summary", str(spec), "--format", "json", *options)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def resnet_json() -> dict:
    return _json(RESNET)


def test_json_top_level_keys(resnet_json):
    assert set(resnet_json) == TOP_KEYS
    assert (resnet_json["format"], resnet_json["version"]) == ("cnndsl-summary", 1)


def test_json_layer_keys(resnet_json):
    for layer in resnet_json["layers"]:
        assert set(layer) == LAYER_KEYS, layer["name"]
        for field in layer["receptive_field"]:
            assert set(field) == FIELD_KEYS, layer["name"]


def test_json_block_and_total_keys(resnet_json):
    assert len(resnet_json["blocks"]) == 16
    assert all(set(block) == BLOCK_KEYS for block in resnet_json["blocks"])
    assert set(resnet_json["totals"]) == TOTAL_KEYS


def test_json_numbers(resnet_json):
    layers = {layer["name"]: layer for layer in resnet_json["layers"]}
    final = layers["conv5_block3_relu3"]["receptive_field"][0]

    assert resnet_json["totals"]["macs"] == 3_857_973_248
    assert resnet_json["totals"]["flops"] == 2 * 3_857_973_248
    assert resnet_json["totals"]["params"] == {"trainable": 25_583_592, "non_trainable": 53_120,
                                               "total": 25_636_712}
    assert (final["kind"], final["size"], final["jump"]) == ("window", [483, 483], [32, 32])
    assert layers["predictions"]["receptive_field"][0]["kind"] == "whole_input"
    assert layers["conv2_block1_conv1"]["scope"] == ["conv2_block1"]
    assert sum(layer["macs"] for layer in resnet_json["layers"]) == resnet_json["totals"]["macs"]


def test_json_input_row(resnet_json):
    first = resnet_json["layers"][0]
    assert (first["name"], first["class"], first["kind"], first["formulas"]) == ("input", "InputLayer", "input", None)
    assert first["activation_bytes"]["per_sample"] == 224 * 224 * 3 * 4


def test_json_fractional_start():
    layers = {layer["name"]: layer for layer in _json(LENET)["layers"]}
    assert layers["maxpool2"]["receptive_field"][0]["start"] == [5.5, 5.5]
    assert layers["conv2"]["formulas"]["params"] == "16 x (6 x 5 x 5 + 1) = 2,416"


def test_csv_one_row_per_node():
    result = run_cnndsl("summary", str(RESNET), "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    resnet = _json(RESNET)

    assert len(rows) == len(resnet["layers"])
    assert [row["name"] for row in rows] == [layer["name"] for layer in resnet["layers"]]
    assert sum(int(row["macs"]) for row in rows) == 3_857_973_248
    assert rows[-2]["rf_kind"] == "whole_input"


def test_csv_lenet_values():
    result = run_cnndsl("summary", str(LENET), "--format", "csv", "--batch-size", "2")
    rows = {row["name"]: row for row in csv.DictReader(io.StringIO(result.stdout))}
    assert rows["conv2"]["macs"] == "240000"
    assert rows["conv2"]["inputs"] == "maxpool1"
    assert rows["conv2"]["output_shape"] == "10x10x16"
    assert (rows["maxpool2"]["rf_size_height"], rows["maxpool2"]["rf_jump_width"]) == ("16", "4")
    assert rows["input"]["activation_bytes_per_batch"] == str(2 * 28 * 28 * 4)


def test_text_keeps_summary_columns():
    result = run_cnndsl("summary", str(LENET))
    assert result.returncode == 0, result.stderr
    for text in ("Layer (type)", "Output shape", "Param #", "MACs", "RF / jump", "Total params: 61,706",
                 "Trainable params: 61,706", "Non-trainable params: 0",
                 "MACs per sample: 416,520 (416.52K); FLOPs per sample: 833,040 (833.04K), 2 FLOPs per MAC",
                 "conv2 (Conv2D)           (None, 10, 10, 16)    2,416  240,000  14 / 2"):
        assert text in result.stdout


def test_text_all_columns():
    result = run_cnndsl("summary", str(LENET), "--all")
    header = result.stdout.splitlines()[2]
    for column in ("MACs", "FLOPs", "Activations", "Live memory", "RF / jump", "Details", "Line"):
        assert column in header


def test_text_chosen_columns():
    result = run_cnndsl("summary", str(LENET), "--columns", "params,flops")
    assert result.stdout.splitlines()[2].split() == ["Layer", "(type)", "Param", "#", "FLOPs"]


def test_text_block_totals():
    result = run_cnndsl("summary", str(RESNET))
    assert "Block instances (16): parameters and MACs per sample, nested instances included" in result.stdout
    assert "conv2_block1    bottleneck      12     76,928  231,211,008" in result.stdout


@pytest.mark.parametrize("options, message", [
    (["--columns", "params,speed"], "invalid column speed"),
    (["--format", "json", "--explain"], "--explain applies to --format text only"),
    (["--format", "csv", "--all"], "--all applies to --format text only"),
])
def test_invalid_options_are_usage_errors(options, message):
    result = run_cnndsl("summary", str(LENET), *options)
    assert result.returncode == 2
    assert message in result.stderr


def test_invalid_spec_exits_1(tmp_path):
    spec = tmp_path / "bad.cnn"
    spec.write_text("input 3x3x1\nconv 8 k5\n")

    result = run_cnndsl("summary", str(spec), "--format", "json")

    assert result.returncode == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr


def test_rf_command_imports_no_tensorflow():
    probe = ("import sys\nfrom cnndsl.cli import main\n"
             f"code = main(['rf', {str(LENET)!r}])\n"
             "print('HEAVY:' + ','.join(sorted(n for n in ('tensorflow', 'keras') if n in sys.modules)))\n"
             "sys.exit(code)\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "HEAVY:"

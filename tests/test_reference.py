"""Tests of the language reference: docs/language.md against the registry, the checker and Keras."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from cnndsl import reference
from cnndsl.errors import CnnDslError
from cnndsl.layers import ALL_KINDS, KINDS_BY_NAME
from cnndsl.layers.values import keras_value
from cnndsl.pipeline import analyse_text
from cnndsl.summary import summary_table

DOC_PATH = Path(__file__).resolve().parents[1] / "docs" / "language.md"
DOC_TEXT = DOC_PATH.read_text(encoding="utf-8")
HAND_WRITTEN = DOC_TEXT.split(reference.BEGIN_MARKER)[0]

FENCE = re.compile(r"^```(?P<info>[^\n]*)\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
EXAMPLE = re.compile(r"`(?P<line>[^`]+)` on input `(?P<input>[^`]+)` gives")

# Options whose cnndsl default is cnndsl's own because Keras requires the argument.
DEFAULTS_KERAS_LACKS = {("avgpool", "pool_size")}


def fenced_blocks(info: str) -> list[str]:
    return [match["body"] for match in FENCE.finditer(HAND_WRITTEN) if match["info"].strip() == info]


def generated_examples() -> list[tuple[str, str]]:
    markdown = reference.layer_reference_markdown()
    return [(match["input"], match["line"]) for match in EXAMPLE.finditer(markdown)]


def keras_or_skip():
    pytest.importorskip("keras")
    from cnndsl.backends.keras_backend import import_keras

    return import_keras()


# ---- The generated section ---------------------------------------------------


def test_doc_section_matches_registry():
    assert reference.generated_section(DOC_TEXT) == reference.layer_reference_markdown(), (
        f"the layer reference in docs/language.md is out of date; run `{reference.WRITE_COMMAND}`"
    )


def test_output_is_deterministic():
    assert reference.layer_reference_markdown() == reference.layer_reference_markdown()


@pytest.mark.parametrize("name", sorted(KINDS_BY_NAME))
def test_reference_names_keyword_or_alias(name):
    assert f"`{name}`" in reference.layer_reference_markdown()


@pytest.mark.parametrize("kind", [kind for kind in ALL_KINDS if kind.options], ids=lambda kind: kind.keyword)
def test_kind_section_lists_every_option(kind):
    section = "\n".join(reference.kind_section(kind))
    for option in kind.options:
        assert f"`{option.name}=`" in section
        for alias in option.aliases:
            assert f"`{alias}=`" in section
        for flag in option.flags:
            assert f"`{flag}`" in section or "every value" in section


def _example_kind(line: str) -> str:
    """Return the layer kind an example shows: its first word, or the merge it ends with."""
    last_step = line.split(" > ")[-1]
    return last_step.split("(")[0] if "(" in last_step else line.split()[0]


def test_every_kind_has_example():
    example_kinds = {_example_kind(line) for _, line in generated_examples()}
    missing = [kind.keyword for kind in ALL_KINDS if not example_kinds & {kind.keyword, *kind.aliases}]
    assert not missing, f"add an example for {', '.join(missing)} to EXAMPLES in cnndsl/reference.py"


@pytest.mark.parametrize("input_shape, line", generated_examples(), ids=lambda value: value)
def test_generated_example_checks(input_shape, line):
    checked = analyse_text(reference.example_spec(input_shape, line))

    assert checked.warnings == []
    assert checked.network.layers[-1].kind is KINDS_BY_NAME[_example_kind(line)]


def test_invalid_example_raises_with_fix(monkeypatch):
    monkeypatch.setitem(reference.EXAMPLES, "conv", ("32x32x3", "conv 32"))

    with pytest.raises(ValueError, match="Fix EXAMPLES in cnndsl/reference.py"):
        reference.layer_reference_markdown()


def test_table_cell_escapes_pipe():
    assert reference._cell("valid | same") == "valid \\| same"


# ---- Specs in the hand-written part -------------------------------------------


def test_doc_has_spec_blocks():
    assert len(fenced_blocks("cnn")) >= 5
    assert len(fenced_blocks("cnn-error")) >= 2


@pytest.mark.parametrize("spec", fenced_blocks("cnn"), ids=lambda spec: spec.splitlines()[-1])
def test_cnn_block_checks(spec):
    checked = analyse_text(spec, name="docs/language.md")

    assert checked.network.layers


@pytest.mark.parametrize("spec", fenced_blocks("cnn-error"), ids=lambda spec: spec.splitlines()[-1])
def test_cnn_error_block_raises(spec):
    with pytest.raises(CnnDslError) as caught:
        analyse_text(spec, name="docs/language.md")

    assert caught.value.errors


def test_first_example_matches_lenet():
    lenet = (DOC_PATH.parents[1] / "examples" / "lenet.cnn").read_text(encoding="utf-8")
    checked = analyse_text(lenet, name="examples/lenet.cnn")

    assert fenced_blocks("cnn")[0] == lenet
    assert summary_table(checked.network) in HAND_WRITTEN


# ---- Section replacement and the command line ----------------------------------


def test_replace_keeps_surrounding_text():
    text = f"intro\n{reference.BEGIN_MARKER}\nold\n{reference.END_MARKER}\noutro\n"

    updated = reference.replace_generated_section(text, "new\n")

    assert updated == f"intro\n{reference.BEGIN_MARKER}\nnew\n{reference.END_MARKER}\noutro\n"
    assert reference.generated_section(updated) == "new\n"


def test_replace_without_markers_raises():
    with pytest.raises(reference.MarkerError, match="BEGIN GENERATED LAYER REFERENCE"):
        reference.replace_generated_section("no markers here\n", "new\n")


def test_main_prints_reference(capsys):
    assert reference.main([]) == 0

    assert capsys.readouterr().out == reference.layer_reference_markdown()


def test_main_writes_section(tmp_path, capsys):
    path = tmp_path / "language.md"
    path.write_text(f"# Title\n\n{reference.BEGIN_MARKER}\nstale\n{reference.END_MARKER}\n", encoding="utf-8")

    assert reference.main(["--write", str(path)]) == 0
    assert reference.generated_section(path.read_text(encoding="utf-8")) == reference.layer_reference_markdown()
    assert path.read_text(encoding="utf-8").startswith("# Title\n\n")
    assert "updated" in capsys.readouterr().out

    assert reference.main(["--write", str(path)]) == 0
    assert "already up to date" in capsys.readouterr().out


def test_main_rejects_file_without_markers(tmp_path, capsys):
    path = tmp_path / "language.md"
    path.write_text("# Title\n", encoding="utf-8")

    assert reference.main(["--write", str(path)]) == 1
    assert path.read_text(encoding="utf-8") == "# Title\n"
    assert "BEGIN GENERATED LAYER REFERENCE" in capsys.readouterr().err


def test_main_reports_missing_file(tmp_path, capsys):
    assert reference.main(["--write", str(tmp_path / "missing.md")]) == 1
    assert "missing.md" in capsys.readouterr().err


# ---- Facts about Keras that the document states ---------------------------------


def _required_arguments(kind) -> dict:
    """Return Keras arguments for the options Keras requires, taken from the kind's example."""
    input_shape, line = reference.example_for(kind)
    config = analyse_text(reference.example_spec(input_shape, line)).network.layers[-1].config
    names = {option.name for option in kind.options if option.required}
    names |= {name for keyword, name in DEFAULTS_KERAS_LACKS if keyword == kind.keyword}
    return {**kind.fixed, **{name: keras_value(config[name]) for name in names}}


@pytest.mark.parametrize("kind", [kind for kind in ALL_KINDS if kind.options], ids=lambda kind: kind.keyword)
def test_defaults_equal_keras(kind):
    keras = keras_or_skip()
    layer_class = getattr(keras.layers, kind.keras_class)
    required = _required_arguments(kind)

    for option in kind.options:
        if option.required or (kind.keyword, option.name) in DEFAULTS_KERAS_LACKS:
            continue
        keras_default = layer_class(**required).get_config()[option.name]
        ours = layer_class(**required, **{option.name: keras_value(option.default)}).get_config()[option.name]
        assert ours == keras_default, (
            f"{kind.keyword} {option.name}: cnndsl default {option.default!r} gives {ours!r}, "
            f"Keras gives {keras_default!r}")


@pytest.mark.parametrize("keyword, name", sorted(DEFAULTS_KERAS_LACKS))
def test_keras_lacks_listed_default(keyword, name):
    keras = keras_or_skip()
    layer_class = getattr(keras.layers, KINDS_BY_NAME[keyword].keras_class)

    parameter = inspect.signature(layer_class.__init__).parameters[name]

    assert parameter.default is inspect.Parameter.empty


def test_leaky_relu_slopes_differ_as_documented():
    keras = keras_or_skip()
    import numpy as np

    below_zero = np.array([[-1.0]], dtype="float32")
    dense = keras.layers.Dense(1, activation="leaky_relu", use_bias=False, kernel_initializer="ones")

    assert float(keras.layers.LeakyReLU()(below_zero)[0, 0]) == pytest.approx(-0.3)
    assert float(dense(below_zero)[0, 0]) == pytest.approx(-0.2)
    assert KINDS_BY_NAME["leaky_relu"].option("negative_slope").default == 0.3

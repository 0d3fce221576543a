"""Tests of the language docs: docs/language.md and docs/graphs.md against the registry, the checker and Keras.

Every ```cnn fence in the hand-written docs must check without errors, and
every ```cnn-error fence must fail. A fence written ```cnn file=PATH is a
file that other fences can `use`: each doc's file fences are written to one
directory before any of them is checked. A ```text fence that directly
follows a spec fence and starts with `$ cnndsl check NAME` (or `summary`) is
a transcript: the command runs on the spec and must print exactly that.
"""

from __future__ import annotations

import inspect
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from cnndsl import cli, reference, syntax
from cnndsl.analysis import analyse_network
from cnndsl.analysis.table import summary_text
from cnndsl.errors import CnnDslError
from cnndsl.layers import ALL_KINDS, KINDS_BY_NAME
from cnndsl.layers.values import keras_value
from cnndsl.parser import parse
from cnndsl.pipeline import analyse, analyse_text

DOCS = Path(__file__).resolve().parents[1] / "docs"
DOC_PATH = DOCS / "language.md"
DOC_TEXT = DOC_PATH.read_text(encoding="utf-8")
HAND_WRITTEN = DOC_TEXT.split(reference.BEGIN_MARKER)[0]
GRAPHS_PATH = DOCS / "graphs.md"
GRAPHS_TEXT = GRAPHS_PATH.read_text(encoding="utf-8")

# The hand-written docs whose spec fences are checked, by the name that messages report.
CHECKED_DOCS = {"docs/language.md": HAND_WRITTEN, "docs/graphs.md": GRAPHS_TEXT}

FENCE = re.compile(r"^```(?P<info>[^\n]*)\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
EXAMPLE = re.compile(r"`(?P<line>[^`]+)` on input `(?P<input>[^`]+)` gives")
SPEC_LANGUAGES = ("cnn", "cnn-error")
TRANSCRIPT_COMMANDS = ("check", "summary")

# A row of the broadcasting table in docs/graphs.md: | `add` | `8x8x16` | `1x1x16` | `8x8x16` |
MERGE_ROW = re.compile(r"^\| `(?P<merge>[a-z]+)(?: axis=(?P<axis>-?\d+))?` \| `(?P<first>[\dx]+)` "
                       r"\| `(?P<second>[\dx]+)` \| (?:`(?P<result>[\dx]+)`|error: [^|]+) \|$", re.MULTILINE)

# Options whose cnndsl default is cnndsl's own because Keras requires the argument.
DEFAULTS_KERAS_LACKS = {("avgpool", "pool_size")}


@dataclass(frozen=True)
class Fence:
    """A fenced code block of a doc, with the transcript that follows it, if any."""

    doc: str
    line: int
    language: str
    file: str | None
    body: str
    transcript: str | None

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}"


def doc_fences(doc: str) -> list[Fence]:
    text = CHECKED_DOCS[doc]
    matches = list(FENCE.finditer(text))
    fences = []
    for index, match in enumerate(matches):
        language, *attributes = match["info"].split() or [""]
        options = dict(attribute.split("=", 1) for attribute in attributes if "=" in attribute)
        following = matches[index + 1] if index + 1 < len(matches) else None
        transcript = _transcript(text, match, following) if language in SPEC_LANGUAGES else None
        line = text.count("\n", 0, match.start()) + 1
        fences.append(Fence(doc, line, language, options.get("file"), match["body"], transcript))
    return fences


def _transcript(text: str, spec: re.Match, following: re.Match | None) -> str | None:
    """Return the body of the fence `following` if it is a transcript of the spec fence `spec`."""
    if following is None or following["info"].strip() != "text":
        return None
    if text[spec.end():following.start()].strip():
        return None  # prose between the two fences
    if not following["body"].startswith("$ cnndsl "):
        return None
    return following["body"]


def spec_fences(language: str) -> list[Fence]:
    return [fence for doc in CHECKED_DOCS for fence in doc_fences(doc) if fence.language == language]


def fenced_blocks(info: str) -> list[str]:
    """Return the bodies of the ```INFO fences in the hand-written part of docs/language.md."""
    return [fence.body for fence in doc_fences("docs/language.md") if fence.language == info and fence.file is None]


def write_file_fences(doc: str, directory: Path) -> None:
    """Write every ```cnn file=PATH fence of `doc` to PATH under `directory`."""
    for fence in doc_fences(doc):
        if fence.file is not None:
            path = directory / fence.file
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(fence.body, encoding="utf-8")


def analyse_fence(fence: Fence, directory: Path):
    """Check the spec of `fence`. A file fence is checked in a directory where its `use` lines find the others."""
    if fence.file is None:
        return analyse_text(fence.body, name=fence.doc)
    write_file_fences(fence.doc, directory)
    path = directory / fence.file
    return analyse(syntax.Source(str(path), path.read_text(encoding="utf-8")))


def is_library(fence: Fence) -> bool:
    """Return True for a file fence without an `input` line: blocks that other fences `use`."""
    if fence.file is None:
        return False
    statements = parse(syntax.Source(fence.file, fence.body)).statements
    return not any(isinstance(statement, syntax.InputDecl) for statement in statements)


def merge_rows() -> list[tuple[str, int | None, str, str, str | None]]:
    return [(row["merge"], int(row["axis"]) if row["axis"] else None, row["first"], row["second"], row["result"])
            for row in MERGE_ROW.finditer(GRAPHS_TEXT)]


def parse_shape(text: str) -> tuple[int, ...]:
    return tuple(int(size) for size in text.split("x"))


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


# ---- Specs in the hand-written docs ---------------------------------------------


@pytest.mark.parametrize("doc, cnn, cnn_error", [("docs/language.md", 5, 2), ("docs/graphs.md", 15, 4)])
def test_doc_has_spec_blocks(doc, cnn, cnn_error):
    fences = doc_fences(doc)

    assert len([fence for fence in fences if fence.language == "cnn"]) >= cnn
    assert len([fence for fence in fences if fence.language == "cnn-error"]) >= cnn_error


@pytest.mark.parametrize("fence", spec_fences("cnn"), ids=str)
def test_cnn_block_checks(fence, tmp_path):
    if is_library(fence):
        parse(syntax.Source(fence.file, fence.body))  # its blocks are checked by the fences that use it
        return

    checked = analyse_fence(fence, tmp_path)

    assert checked.network.layers
    if fence.transcript is None:
        assert checked.warnings == [], "a spec with warnings needs a transcript that shows them"


@pytest.mark.parametrize("fence", spec_fences("cnn-error"), ids=str)
def test_cnn_error_block_raises(fence, tmp_path):
    with pytest.raises(CnnDslError) as caught:
        analyse_fence(fence, tmp_path)

    assert caught.value.errors


@pytest.mark.parametrize("fence", [fence for language in SPEC_LANGUAGES for fence in spec_fences(language)
                                   if fence.transcript is not None], ids=str)
def test_transcript_matches_cli(fence, tmp_path, monkeypatch, capsys):
    command, *expected = fence.transcript.rstrip("\n").split("\n")
    arguments = shlex.split(command)[2:]
    assert len(arguments) == 2, command
    assert arguments[0] in TRANSCRIPT_COMMANDS, command
    assert fence.file in (None, arguments[1]), "the command must check the file that the fence shows"
    write_file_fences(fence.doc, tmp_path)
    if fence.file is None:
        (tmp_path / arguments[1]).write_text(fence.body, encoding="utf-8")
    monkeypatch.chdir(tmp_path)

    status = cli.main(arguments)

    captured = capsys.readouterr()
    assert status == (cli.EXIT_OK if fence.language == "cnn" else cli.EXIT_INVALID)
    assert (captured.err + captured.out).rstrip("\n").split("\n") == expected


def test_worked_example_layer_names():
    worked_example = next(fence for fence in doc_fences("docs/graphs.md") if fence.language == "cnn")
    names = [layer.name for layer in analyse_text(worked_example.body).network.layers]

    assert names[:4] == ["conv1", "batchnorm1", "stem", "conv2"]
    assert "add1" in names


def test_docs_have_transcripts():
    assert len([fence for fence in doc_fences("docs/graphs.md") if fence.transcript is not None]) >= 6


def test_use_example_has_library_file():
    files = [fence for fence in doc_fences("docs/graphs.md") if fence.file is not None]

    assert any(is_library(fence) for fence in files)
    assert any('use "' in fence.body and not is_library(fence) for fence in files)


def test_first_example_matches_lenet():
    lenet = (DOC_PATH.parents[1] / "examples" / "lenet.cnn").read_text(encoding="utf-8")
    checked = analyse_text(lenet, name="examples/lenet.cnn")

    assert fenced_blocks("cnn")[0] == lenet
    assert summary_text(analyse_network(checked.network)) in HAND_WRITTEN


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


def test_merge_table_has_rows():
    rows = merge_rows()

    assert len(rows) >= 12
    assert any(result is None for *_, result in rows)
    assert {merge for merge, *_ in rows} >= {"add", "subtract", "multiply", "average", "maximum", "minimum", "concat"}


@pytest.mark.parametrize("merge, axis, first, second, result", merge_rows(), ids=str)
def test_merge_table_row_matches_cnndsl(merge, axis, first, second, result):
    options = f", axis={axis}" if axis is not None else ""
    spec = f"input a {first}\ninput b {second}\n{merge}(a, b{options})\n"

    if result is None:
        with pytest.raises(CnnDslError, match=f"{merge}: .* differ in "):
            analyse_text(spec)
        return
    assert analyse_text(spec).network.layers[-1].output_shape == parse_shape(result)


@pytest.mark.parametrize("merge, axis, first, second, result", merge_rows(), ids=str)
def test_merge_table_row_matches_keras(merge, axis, first, second, result):
    keras = keras_or_skip()
    import numpy as np

    shapes = [parse_shape(first), parse_shape(second)]
    inputs = [keras.Input(shape) for shape in shapes]
    layer = getattr(keras.layers, KINDS_BY_NAME[merge].keras_class)(**({} if axis is None else {"axis": axis}))

    if result is None:
        with pytest.raises(ValueError):
            layer(inputs)
        return
    output = layer(inputs)
    model = keras.Model(inputs, output)
    computed = model.predict([np.ones((1, *shape), dtype="float32") for shape in shapes], verbose=0)

    assert tuple(output.shape[1:]) == parse_shape(result)
    assert computed.shape[1:] == parse_shape(result)


def test_leaky_relu_slopes_differ_as_documented():
    keras = keras_or_skip()
    import numpy as np

    below_zero = np.array([[-1.0]], dtype="float32")
    dense = keras.layers.Dense(1, activation="leaky_relu", use_bias=False, kernel_initializer="ones")

    assert float(keras.layers.LeakyReLU()(below_zero)[0, 0]) == pytest.approx(-0.3)
    assert float(dense(below_zero)[0, 0]) == pytest.approx(-0.2)
    assert KINDS_BY_NAME["leaky_relu"].option("negative_slope").default == 0.3

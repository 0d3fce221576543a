"""Bad input never breaks cnndsl: random text, mutated examples and stress specs.

Every input must end in a checked network or in a CnnDslError whose errors
all carry a line and column inside the text, within a couple of seconds, and
no other exception (RecursionError, MemoryError, ValueError from int(), ...)
may escape. Hypothesis draws random text from the language's tokens and from
arbitrary Unicode, and mutates the specs of examples/ (truncation, deleted,
swapped and duplicated tokens, hostile numbers and fragments). The stress
tests cover the limits docs/robustness.md lists. A sample goes through the
real `cnndsl check` process, which must print a positioned message and exit 1.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnndsl.errors import CnnDslError
from cnndsl.pipeline import analyse_text
from cnndsl.resolve.builder import MAX_NESTING
from conftest import EXAMPLES, run_cnndsl

FAST_SECONDS = 2.0  # the bound for every fuzzed input, which is at most a few kilobytes

TOKENS = [
    "input", "network", "output", "use", "block", "train", "residual", "shortcut", "if", "parallel", "first",
    "identity", "conv", "dwconv", "sepconv", "deconv", "maxpool", "avgpool", "gavgpool", "dense", "flatten",
    "reshape", "dropout", "batchnorm", "zeropad", "crop", "upsample", "relu", "concat", "add(", "concat(",
    "stage(", "first(", "same", "valid", "k3", "s2", "d2", "op1", "m2", "nobias", "keepdims", "bilinear",
    "filters=", "axis=", "name=", "{", "}", "(", ")", ">", "->", ",", "=", "\n", " ", "  ", "#", '"', "x3",
    "0", "1", "3", "-1", "28x28x1", "3x224x224", "1/255", "1e-3", "0.5", "1e999", str(10**30), "9" * 60,
    "1000000x1000000x3", "skip", "a", "f", "(f * 2)", "é", "\u2028", "\x0c", "\t", "\r\n", "\x00", "💥",
]
HOSTILE_NUMBERS = ["0", "-1", "-0", str(10**30), "1000000x1000000x3", "9" * 5000, "1e999", "0.0", "1/0",
                   "-7x-7", "2147483648", "99999x99999x99999"]
HOSTILE_FRAGMENTS = ["é", "\u2028", "\x00", "\t", "{", "}", "(", ")", "residual {", "x999999999", " > ", "\n",
                     "#", '"', "->", "💥", " " * 1000, "relu " * 300, "((((((((", "}}}}", "block b(", "use \"",
                     "input 0", "parallel add {\n", "x0", "first(", "name=__import__"]
TOKEN_PATTERN = re.compile(r"\s+|[A-Za-z_][A-Za-z0-9_]*\(?|-?\d+(?:x-?\d+)+|\d+(?:\.\d+)?(?:/\d+(?:\.\d+)?)?|->|.",
                           re.DOTALL)
EXAMPLE_TEXTS = [path.read_text(encoding="utf-8") for path in sorted(EXAMPLES.glob("*.cnn"))]


@pytest.fixture(autouse=True)
def in_empty_directory(tmp_path, monkeypatch):
    """Run every input from an empty directory, so that a fuzzed `use "..."` finds no file of this repository."""
    monkeypatch.chdir(tmp_path)


def assert_ends_cleanly(text: str, limit: float = FAST_SECONDS) -> CnnDslError | None:
    """Analyse `text`; it must succeed or raise a CnnDslError with positioned errors, within `limit` seconds."""
    start = time.perf_counter()
    try:
        analyse_text(text, "fuzz.cnn")
        failure = None
    except CnnDslError as error:
        failure = error
    elapsed = time.perf_counter() - start
    assert elapsed < limit, f"took {elapsed:.2f} s"
    if failure is None:
        return None

    assert failure.errors, "a CnnDslError without an error"
    lines = text.split("\n")
    for diagnostic in failure.errors:
        assert diagnostic.span is not None, f"error without a position: {diagnostic.message}"
        if diagnostic.source is None or diagnostic.source.name == "fuzz.cnn":
            assert 1 <= diagnostic.span.line <= len(lines) + 1, diagnostic
            assert 1 <= diagnostic.span.column <= len(lines[min(diagnostic.span.line, len(lines)) - 1]) + 2, \
                diagnostic
    message = str(failure)
    assert re.match(r"fuzz\.cnn:\d+:\d+: error: ", message) or re.search(r":\d+:\d+: error: ", message), message
    return failure


# ---- Random text ------------------------------------------------------------------------------

token_text = st.lists(st.sampled_from(TOKENS), max_size=80).map("".join)


@settings(max_examples=400, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.one_of(token_text, st.text(max_size=300)))
def test_random_text_ends_cleanly(text):
    assert_ends_cleanly(text)


# ---- Mutated examples -------------------------------------------------------------------------


@st.composite
def mutated_examples(draw) -> str:
    tokens = TOKEN_PATTERN.findall(draw(st.sampled_from(EXAMPLE_TEXTS)))
    for _ in range(draw(st.integers(1, 4))):
        if not tokens:
            break
        index = draw(st.integers(0, len(tokens) - 1))
        operation = draw(st.sampled_from(["truncate", "delete", "swap", "duplicate", "number", "insert"]))
        if operation == "truncate":
            tokens = tokens[:index]
        elif operation == "delete":
            del tokens[index]
        elif operation == "swap":
            other = draw(st.integers(0, len(tokens) - 1))
            tokens[index], tokens[other] = tokens[other], tokens[index]
        elif operation == "duplicate":
            tokens.insert(index, tokens[index])
        elif operation == "number":
            numbers = [i for i, token in enumerate(tokens) if token[:1].isdigit()] or [index]
            tokens[draw(st.sampled_from(numbers))] = draw(st.sampled_from(HOSTILE_NUMBERS))
        else:
            tokens.insert(index, draw(st.sampled_from(HOSTILE_FRAGMENTS)))
    return "".join(tokens)


@settings(max_examples=400, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(mutated_examples())
def test_mutated_examples_end_cleanly(text):
    assert_ends_cleanly(text)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.cnn")), ids=lambda path: path.name)
def test_every_example_prefix_ends_cleanly(path):
    text = path.read_text(encoding="utf-8")
    step = max(1, len(text) // 150)
    for end in range(0, len(text), step):
        assert_ends_cleanly(text[:end])


# ---- Stress specs: nesting, numbers, sizes ----------------------------------------------------


def first_error(text: str, limit: float = FAST_SECONDS):
    failure = assert_ends_cleanly(text, limit)
    assert failure is not None, "the spec was accepted"
    return failure.errors[0]


def test_500_nested_residuals_rejected():
    text = "input 8x8x4\n" + "residual { " * 500 + "conv 4 k1" + " }" * 500 + "\n"

    error = first_error(text)

    assert f"nested more than {MAX_NESTING} levels" in error.message
    assert (error.span.line, error.span.column) == (2, 11 * MAX_NESTING + 1)


def test_300_nested_parallels_rejected():
    text = "input 8x8x4\n" + "parallel add { identity\n" * 300 + "conv 4 k1" + "\n}" * 300 + "\n"

    assert "nested more than" in first_error(text).message


def test_nesting_at_limit_accepted():
    text = "input 8x8x4\n" + "residual { " * MAX_NESTING + "conv 4 k1" + " }" * MAX_NESTING + "\n"

    assert assert_ends_cleanly(text) is None


def test_blocks_200_deep_rejected():
    blocks = "".join(f"block b{i}(f) {{ b{i + 1}(f) }}\n" for i in range(200)) + "block b200(f) { conv f k1 }\n"

    error = first_error(blocks + "input 8x8x4\nb0(4)\n")

    assert "nested more than" in error.message
    assert error.span.line == MAX_NESTING


@pytest.mark.parametrize("text", [
    "input 8\ndense " + "(" * 10_000 + "1" + ")" * 10_000 + "\n",
    "input 8\ndense (" + " + ".join(["1"] * 5_000) + ")\n",
    "block b(f) { dense (" + " * ".join(["f"] * 2_000) + ") }\ninput 8\nb(2)\n",
], ids=["10000 parentheses", "5000 additions", "2000 multiplications"])
def test_deep_arithmetic_ends_cleanly(text):
    assert_ends_cleanly(text, limit=10.0)


@pytest.mark.parametrize("text, message", [
    (f"input 8x8x3\nconv {10**30} k3\n", "too large"),
    ("input 8\ndense " + "9" * 5000 + "\n", "too large"),
    ("input " + "9" * 5000 + "\ndense 2\n", "too large"),
    ("input 2147483648\ndense 2\n", "too large"),
    ("block b(f) { dense f }\ninput 8\nb(4) x" + "9" * 5000 + "\n", "repeat count"),
    ("block b(f) { dense f }\ninput 8\nb(4) x1000000000\n", "more than the limit"),
    ("block b(f) { dense f }\nblock c(f) { b(f) x1000 }\ninput 8\nc(4) x1000\n", "more than the limit"),
    ("input 8\ndense (2147483647 * 2)\n", "beyond"),
    ("input 8\ndense (1e99999999999 + 1)\n", "too long or too large"),
    ("input 8\ndropout " + "0." + "1" * 100 + "\n", "more than 40 characters"),
    ("input 0x5x3\nflatten\n", "at least 1"),
    ("input 8\ndense -4\n", "at least 1"),
    ("input 8x8x3\nconv 4 k0\n", "at least 1"),
], ids=["1e30 filters", "5000-digit units", "5000-digit input", "input above 2**31", "5000-digit repeat",
        "repeat 1e9", "nested repeats", "arithmetic overflow", "huge exponent", "long fraction", "zero size",
        "negative units", "zero kernel"])
def test_bad_numbers_are_errors(text, message):
    failure = assert_ends_cleanly(text)

    assert failure is not None, "the spec was accepted"
    assert any(message in error.message for error in failure.errors), [e.message for e in failure.errors]


def test_huge_sizes_within_limits_checked():
    checked = analyse_text("input 1000000x1000000x3\nconv 8 k3\nflatten\ndense 10\n")

    assert checked.network.layers[-1].trainable_params == 10 * 999998 * 999998 * 8 + 10


def test_long_line_of_errors_is_reported_compactly():
    text = "input 8\n" + "dense 4 " * 5_000 + "\n"

    failure = assert_ends_cleanly(text, limit=20.0)

    message = str(failure)
    assert len(message) < 40_000
    assert "more errors and warnings, not shown" in message
    assert max(len(line) for line in message.splitlines()) < 400


def test_long_word_is_shortened_in_messages():
    error = assert_ends_cleanly("input 8\ndense 4 " + "w" * 100_000 + "\n")

    assert len(str(error)) < 2_000


def test_100000_layer_spec_ends_cleanly():
    # The time depends on the parser, whose speed bench/scaling.py measures; this
    # bound only guards against a hang or a quadratic slow-down.
    checked_or_error = assert_ends_cleanly("input 8\n" + "dense 4\n" * 100_000, limit=180.0)

    assert checked_or_error is None


def test_use_chain_too_deep_rejected(tmp_path):
    for index in range(60):
        (tmp_path / f"level{index}.cnn").write_text(f'use "level{index + 1}.cnn"\n', encoding="utf-8")
    (tmp_path / "level60.cnn").write_text("block b(f) { dense f }\n", encoding="utf-8")

    error = first_error('use "level0.cnn"\ninput 8\nb(2)\n')

    assert "nested more than" in error.message


def test_use_of_a_device_file_is_an_error():
    error = first_error('use "/dev/zero"\ninput 8\ndense 2\n')

    assert "not a regular file" in error.message


def test_line_numbers_ignore_form_feeds():
    error = first_error("input 8 # a\x0cb\u2028c\x1cd\ndense 0\n")

    assert (error.span.line, error.span.column) == (2, 7)


# ---- The real command ----------------------------------------------------------------------------

CLI_SAMPLES = {
    "nested.cnn": "input 8x8x4\n" + "residual { " * 500 + "conv 4 k1" + " }" * 500 + "\n",
    "huge.cnn": f"input 8x8x3\nconv {10**30} k3\n",
    "digits.cnn": "input 8\ndense " + "9" * 5000 + "\n",
    "unicode.cnn": "input 8\ndense 4 é💥\n",
    "truncated.cnn": EXAMPLE_TEXTS[0][: len(EXAMPLE_TEXTS[0]) // 2] + "residual {",
    "empty.cnn": "",
    "repeat.cnn": "block b(f) { dense f }\ninput 8\nb(4) x" + "9" * 5000 + "\n",
    "garbage.cnn": "\x00\x01\x02{{{((( >>> ->->",
}


@pytest.mark.parametrize("name", sorted(CLI_SAMPLES))
def test_cli_reports_bad_input_with_position(tmp_path, name):
    spec = tmp_path / name
    spec.write_text(CLI_SAMPLES[name], encoding="utf-8")

    result = run_cnndsl("check", str(spec))

    assert result.returncode == 1, result.stderr
    assert re.search(rf"{re.escape(str(spec))}:\d+:\d+: error: ", result.stderr), result.stderr
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stderr


def test_cli_reports_invalid_utf8_with_position(tmp_path):
    spec = tmp_path / "latin1.cnn"
    spec.write_bytes(b"input 8\n# caf\xe9\ndense 2\n")

    result = run_cnndsl("check", str(spec))

    assert result.returncode == 1
    assert f"{spec}:2:6: error:" in result.stderr
    assert "not UTF-8" in result.stderr


def test_cli_input_paths(tmp_path):
    assert Path(tmp_path).is_dir()
    for argument in (str(tmp_path), str(tmp_path / "missing.cnn")):
        result = run_cnndsl("check", argument)
        assert result.returncode == 1
        assert "Traceback" not in result.stderr


def test_100000_repeated_layers_end_cleanly():
    checked_or_error = assert_ends_cleanly("block b(f) { dense f }\ninput 8\nb(4) x100000\n", limit=60.0)

    assert checked_or_error is None

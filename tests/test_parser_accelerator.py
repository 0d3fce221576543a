"""lark-cython, the optional accelerator, gives the same syntax trees and the same errors as Lark alone.

The rest of the suite runs with whichever parser is installed. These tests
build both parsers and compare them on the examples and on specs that use
every construct of the grammar, valid and invalid.
"""

from __future__ import annotations

import pytest

from cnndsl import parser
from cnndsl.errors import CnnDslError
from cnndsl.syntax import Source
from conftest import EXAMPLES

lark_cython = pytest.importorskip("lark_cython")

VALID = {
    "bindings and merges": "input 8x8x3\nconv 4 k3 same -> a\nconv 4 k3 same > add(a) -> b\noutput b\n",
    "residual with a condition": (
        "block unit(f, down=false) {\n"
        "    residual { conv f k3 same > bn } shortcut if down { conv f k1 }\n"
        "}\ninput 16x16x4\nunit(4) x3 first(down=true)\n"
    ),
    "parallel branches": "input 8x8x3\nparallel concat axis=-1 {\n    conv 2 k1\n    identity\n}\n",
    "values of every kind": (
        "input 28x28x1\nrescale 1/255 offset=-0.5\nreshape -1x28\ndropout .5\n"
        "dense units=(4 * 2 + 1) activation=relu\n"
    ),
    "arithmetic in blocks": "block b(n) {\n    dense (n // 2 - -1) > dense ((n + 1) * 3)\n}\ninput 8\nb(8)\n",
    "header, use and train": (
        'network N\nuse "parts.cnn"\ninput image 8x8x1\ninput > flatten > dense 2 softmax\n'
        "train {\n    optimizer sgd learning_rate=1e-3 > epochs 2\n}\n"
    ),
    "input as a word": "input 4\ninput > dense 2\n",
    "names like repeats": "input 4\ndense 2 name=x3\n",
}

INVALID = {
    "unexpected character": "input 4\ndense 2 $\n",
    "unexpected token": "input 4\ndense 2 > > relu\n",
    "unexpected end": "input 4\nresidual { dense 2\n",
    "stray brace": "input 4\n}\n",
    "huge repeat": "block b() {\n    dense 2\n}\ninput 4\nb() x" + "9" * 5000 + "\n",
    "unterminated string": 'use "parts.cnn\ninput 4\n',
}


@pytest.fixture(scope="module")
def parsers():
    return parser.make_parser(None), parser.make_parser(lark_cython)


def specs() -> dict[str, str]:
    examples = {path.name: path.read_text(encoding="utf-8") for path in sorted(EXAMPLES.glob("*.cnn"))}
    return {**examples, **VALID}


@pytest.mark.parametrize("name", list(specs()))
def test_same_syntax_tree(parsers, name):
    pure, accelerated = parsers
    source = Source(f"{name}.cnn", specs()[name])

    assert parser.parse(source, accelerated) == parser.parse(source, pure)


@pytest.mark.parametrize("name", list(INVALID))
def test_same_error(parsers, name):
    pure, accelerated = parsers
    source = Source("bad.cnn", INVALID[name])
    messages = []
    for chosen in (pure, accelerated):
        with pytest.raises(CnnDslError) as caught:
            parser.parse(source, chosen)
        messages.append(str(caught.value))

    assert messages[0] == messages[1]
    assert "bad.cnn:" in messages[0]


def test_environment_variable_turns_accelerator_off(monkeypatch):
    monkeypatch.setenv(parser.PURE_PARSER_VARIABLE, "1")
    assert parser.accelerator() is None

    for value in ("", "0"):
        monkeypatch.setenv(parser.PURE_PARSER_VARIABLE, value)
        assert parser.accelerator() is lark_cython

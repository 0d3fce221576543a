"""Parse spec text into the syntax tree, turning Lark's errors into diagnostics."""

from __future__ import annotations

import functools
from importlib import resources

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from cnndsl import syntax
from cnndsl.errors import CnnDslError, Diagnostic, Severity
from cnndsl.syntax import Source, Span, Value, ValueKind

# Grammar terminal names as a user would call them, for "expected ..." messages.
TERMINAL_WORDS = {
    "NAME": "a name",
    "SIZE": "a size such as 28x28x1",
    "FRACTION": "a ratio such as 1/255",
    "NUMBER": "a number",
    "_ARROW": "`>`",
    "_NL": "a new line",
    "EQUAL": "`=`",
    "NETWORK": "`network`",
    "INPUT": "`input`",
    "$END": "the end of the file",
}


@functools.lru_cache(maxsize=1)
def grammar_text() -> str:
    """Return the text of grammars/cnn.lark, installed as package data."""
    return resources.files("cnndsl.grammars").joinpath("cnn.lark").read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def _lark() -> Lark:
    return Lark(grammar_text(), parser="lalr", propagate_positions=True, maybe_placeholders=False)


def parse(source: Source) -> syntax.Spec:
    """Parse `source` into a Spec; raise CnnDslError with the position of a syntax error."""
    try:
        tree = _lark().parse(source.text + "\n")
    except UnexpectedInput as error:
        raise CnnDslError(source, [_syntax_diagnostic(source, error)]) from None
    statements = _ToSyntax().transform(tree)
    return syntax.Spec(source=source, statements=tuple(statements))


def _token_span(token: Token) -> Span:
    return Span(token.line, token.column, token.end_line, token.end_column)


def _tree_span(tree_meta) -> Span:
    return Span(tree_meta.line, tree_meta.column, tree_meta.end_line, tree_meta.end_column)


class _ToSyntax(Transformer):
    """Build frozen syntax nodes; all validation happens later, on the nodes."""

    def start(self, children):
        return [child for child in children if not isinstance(child, Token)]

    @v_args(meta=True)
    def network_decl(self, meta, children):
        return syntax.NetworkDecl(name=str(children[0]), span=_tree_span(meta))

    @v_args(meta=True)
    def input_decl(self, meta, children):
        return syntax.InputDecl(shape=children[0], span=_tree_span(meta))

    @v_args(meta=True)
    def chain(self, meta, children):
        return syntax.Chain(layers=tuple(children), span=_tree_span(meta))

    @v_args(meta=True)
    def layer(self, meta, children):
        kind, *options = children
        return syntax.LayerCall(
            kind=str(kind), kind_span=_token_span(kind), options=tuple(options), span=_tree_span(meta)
        )

    @v_args(meta=True)
    def positional(self, meta, children):
        return syntax.Option(value=children[0], span=_tree_span(meta))

    @v_args(meta=True)
    def keyword(self, meta, children):
        name, value = children
        return syntax.Option(value=value, span=_tree_span(meta), keyword=str(name))

    def _value(kind: ValueKind):
        def build(self, children):
            token = children[0]
            return Value(kind=kind, text=str(token), span=_token_span(token))

        return build

    size = _value(ValueKind.SIZE)
    fraction = _value(ValueKind.FRACTION)
    number = _value(ValueKind.NUMBER)
    word = _value(ValueKind.WORD)
    del _value


def _syntax_diagnostic(source: Source, error: UnexpectedInput) -> Diagnostic:
    line = max(1, min(getattr(error, "line", 1) or 1, len(source.lines) or 1))
    column = max(1, getattr(error, "column", 1) or 1)

    if isinstance(error, UnexpectedCharacters):
        char = source.line(line)[column - 1 : column] or "?"
        message = f"unexpected character `{char}`"
        fix = "layers, options and values use letters, digits, `_`, `x`, `/`, `.`, `=` and `>`; comments start with `#`"
        return Diagnostic(Severity.ERROR, message, Span(line, column, line, column + 1), fix)

    if isinstance(error, UnexpectedToken) and error.token.type == "$END":
        line = len(source.lines) or 1
        column = len(source.line(line)) + 1
        return Diagnostic(Severity.ERROR, "the spec ends in the middle of a statement",
                          Span(line, column, line, column + 1), _expected_fix(error))

    if isinstance(error, UnexpectedToken):
        token = error.token
        shown = "line break" if token.type == "_NL" else f"`{token}`"
        span = _token_span(token) if token.type != "_NL" else Span(line, column, line, column + 1)
        return Diagnostic(Severity.ERROR, f"unexpected {shown}", span, _expected_fix(error))

    assert isinstance(error, UnexpectedEOF)
    return Diagnostic(Severity.ERROR, "the spec ends in the middle of a statement",
                      Span(line, column, line, column + 1), None)


def _expected_fix(error: UnexpectedToken) -> str | None:
    expected = sorted({TERMINAL_WORDS.get(name, name) for name in error.expected if name in TERMINAL_WORDS})
    if not expected:
        return None
    return "expected " + ", ".join(expected[:-1]) + (" or " if len(expected) > 1 else "") + expected[-1]

"""Parse spec text into the syntax tree, turning Lark's errors into diagnostics."""

from __future__ import annotations

import dataclasses
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
    "CALLEE": "a block call or merge such as `add(`",
    "REPEAT": "a repeat count such as `x3`",
    "STRING": "a quoted file name",
    "LBRACE": "`{`",
    "RBRACE": "`}`",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "COMMA": "`,`",
    "_BIND": "`->`",
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
        diagnostic = dataclasses.replace(_syntax_diagnostic(source, error), source=source)
        raise CnnDslError(source, [diagnostic]) from None
    statements = _ToSyntax(source).transform(tree)
    return syntax.Spec(source=source, statements=tuple(statements))


def _token_span(token: Token) -> Span:
    return Span(token.line, token.column, token.end_line, token.end_column)


def _tree_span(tree_meta) -> Span:
    return Span(tree_meta.line, tree_meta.column, tree_meta.end_line, tree_meta.end_column)


class _ToSyntax(Transformer):
    """Build frozen syntax nodes; all validation happens later, on the nodes."""

    def __init__(self, source: Source):
        super().__init__()
        self.source = source

    def start(self, children):
        return children

    @v_args(meta=True)
    def network_decl(self, meta, children):
        return syntax.NetworkDecl(name=str(children[0]), span=_tree_span(meta))

    @v_args(meta=True)
    def input_decl(self, meta, children):
        children = children[1:]  # the INPUT keyword token
        name = str(children[0]) if len(children) == 2 else None
        return syntax.InputDecl(shape=children[-1], span=_tree_span(meta), name=name)

    @v_args(meta=True)
    def output_decl(self, meta, children):
        return syntax.OutputDecl(names=tuple(str(token) for token in children),
                                 spans=tuple(_token_span(token) for token in children), span=_tree_span(meta))

    @v_args(meta=True)
    def use_decl(self, meta, children):
        return syntax.UseDecl(path=str(children[0])[1:-1], span=_tree_span(meta))

    @v_args(meta=True)
    def block_def(self, meta, children):
        callee, *params, body = children
        return syntax.BlockDef(name=str(callee)[:-1], name_span=_callee_span(callee), params=tuple(params),
                               body=body, span=_tree_span(meta), source=self.source)

    @v_args(meta=True)
    def train_decl(self, meta, children):
        return syntax.TrainDecl(settings=children[0], span=_tree_span(meta))

    @v_args(meta=True)
    def param(self, meta, children):
        default = children[1] if len(children) == 2 else None
        return syntax.Param(name=str(children[0]), span=_tree_span(meta), default=default)

    def body(self, children):
        return tuple(children)

    @v_args(meta=True)
    def chain(self, meta, children):
        binding = children[-1] if isinstance(children[-1], Token) else None
        steps = children[:-1] if binding is not None else children
        return syntax.Chain(steps=tuple(steps), span=_tree_span(meta),
                            binding=str(binding) if binding is not None else None,
                            binding_span=_token_span(binding) if binding is not None else None)

    def input_reference(self, children):
        token = children[0]
        return syntax.LayerCall(kind=str(token), kind_span=_token_span(token), options=(),
                                span=_token_span(token))

    @v_args(meta=True)
    def layer(self, meta, children):
        kind, *options = children
        return syntax.LayerCall(
            kind=str(kind), kind_span=_token_span(kind), options=tuple(options), span=_tree_span(meta)
        )

    @v_args(meta=True)
    def call(self, meta, children):
        callee, *rest = children
        repeat = rest.pop() if rest and isinstance(rest[-1], syntax.Repeat) else None
        return syntax.Call(callee=str(callee)[:-1], callee_span=_callee_span(callee), arguments=tuple(rest),
                           span=_tree_span(meta), repeat=repeat)

    @v_args(meta=True)
    def repeat(self, meta, children):
        count, *first = children
        if first and isinstance(first[0], Token):
            first = first[1:]  # the `first(` token; its name is checked by the resolver
        return syntax.Repeat(count=int(str(count)[1:]), span=_tree_span(meta), first=tuple(first))

    @v_args(meta=True)
    def residual(self, meta, children):
        body, *rest = children
        condition = next((token for token in rest if isinstance(token, Token)), None)
        shortcut = rest[-1] if rest else None
        return syntax.Residual(body=body, span=_tree_span(meta), shortcut=shortcut,
                               condition=str(condition) if condition is not None else None,
                               condition_span=_token_span(condition) if condition is not None else None)

    @v_args(meta=True)
    def parallel(self, meta, children):
        merge, *options, branches = children
        return syntax.Parallel(merge=str(merge), merge_span=_token_span(merge), options=tuple(options),
                               branches=branches, span=_tree_span(meta))

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

    @v_args(meta=True)
    def negative(self, meta, children):
        return Value(kind=ValueKind.NUMBER, text="-" + str(children[0]), span=_tree_span(meta))

    @v_args(meta=True)
    def negative_fraction(self, meta, children):
        return Value(kind=ValueKind.FRACTION, text="-" + str(children[0]), span=_tree_span(meta))

    @v_args(meta=True)
    def expression(self, meta, children):
        span = _tree_span(meta)
        text = self.source.line(span.line)[span.column - 1 : span.end_column - 1] if span.line == span.end_line \
            else "(...)"
        return Value(kind=ValueKind.EXPRESSION, text=text, span=span, expression=children[0])

    def _operation(operator: str):
        @v_args(meta=True)
        def build(self, meta, children):
            return syntax.BinaryOperation(operator, children[0], children[1], _tree_span(meta))

        return build

    add = _operation("+")
    subtract = _operation("-")
    multiply = _operation("*")
    floor_divide = _operation("//")
    del _operation


def _callee_span(token: Token) -> Span:
    """Return the span of a call's name, without its opening parenthesis."""
    return Span(token.line, token.column, token.end_line, token.end_column - 1)


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

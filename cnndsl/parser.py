"""Parse spec text into the syntax tree, turning Lark's errors into diagnostics."""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import threading
from pathlib import Path
from typing import Any

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from cnndsl import syntax
from cnndsl.errors import CnnDslError, Diagnostic, Severity, shortened
from cnndsl.layers.values import MAX_INTEGER, integer_too_large
from cnndsl.parser_cache import cached_parser
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
    "RESIDUAL": "`residual`",
    "PARALLEL": "`parallel`",
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
    import cnndsl.grammars

    # Reading the file beside the package skips importing importlib.resources'
    # readers, about 5 ms of every start. A package inside a zip file has no
    # such file, so importlib.resources reads it there.
    try:
        return Path(cnndsl.grammars.__file__).with_name("cnn.lark").read_text(encoding="utf-8")
    except (OSError, TypeError):  # TypeError: a namespace package without __file__
        from importlib import resources

        return resources.files("cnndsl.grammars").joinpath("cnn.lark").read_text(encoding="utf-8")


# The parser keeps every token, keywords and brackets included, so that each
# reduction can compute its node's span from its first and last token. Lark's
# own span tracking (propagate_positions) took about 60% of Lark's parse time
# on a 10,000-layer spec.
PARSER_OPTIONS = {"parser": "lalr", "keep_all_tokens": True, "maybe_placeholders": False}

# A terminal declared as `NAME: ...` or `NAME.2: ...` at the start of a grammar line.
_TERMINAL_DEFINITION = re.compile(r"^([A-Z][A-Z0-9_]*)(?:\.-?\d+)?\s*:", re.MULTILINE)

# The source being parsed, for the few reductions that quote it or report an
# error. It is kept per thread, because one parser serves every thread.
_current = threading.local()


# Setting this variable to 1 (any value but empty or 0) makes cnndsl parse with
# Lark's pure-Python lexer and parser even when lark-cython is installed.
PURE_PARSER_VARIABLE = "CNNDSL_PURE_PARSER"


def _token_classes() -> tuple[type, ...]:
    """Return the token classes that can reach _ToSyntax: Lark's, and lark-cython's when it is installed."""
    try:
        from lark_cython import Token as CythonToken
    except ImportError:
        return (Token,)
    return (Token, CythonToken)


_TOKEN_CLASSES = _token_classes()


def accelerator() -> Any | None:
    """Return the lark_cython module when it is installed and not turned off, else None.

    lark-cython (the `fast` extra) reimplements Lark's LALR lexer and parser in
    Cython, which parses long specs about 25% faster (docs/benchmarks.md). Its
    tokens are not `str` subclasses, so the reductions use `str(token)` and
    _TOKEN_CLASSES.
    """
    if os.environ.get(PURE_PARSER_VARIABLE, "") not in ("", "0"):
        return None
    try:
        import lark_cython
    except ImportError:
        return None
    return lark_cython


@functools.lru_cache(maxsize=1)
def _lark() -> Lark:
    """Return the parser; it calls _ToSyntax at every reduction instead of building a parse tree."""
    return make_parser(accelerator())


def make_parser(plugin_module: Any | None) -> Lark:
    """Build the parser (loaded from the cache when possible), with lark-cython's classes if given its module."""
    live: dict[str, Any] = {"transformer": _Reductions(_kept_terminals())}
    if plugin_module is not None:
        live["_plugins"] = plugin_module.plugins
    return cached_parser(grammar_text(), PARSER_OPTIONS, live)


@functools.lru_cache(maxsize=1)
def _kept_terminals() -> frozenset[str]:
    """Return the terminals whose tokens reach _ToSyntax: those the grammar names, except `_NAME` ones.

    These are the tokens that Lark leaves in the tree without keep_all_tokens.
    NOTE: a quoted string in a rule that equals a named terminal's pattern
    (`"input"` where `INPUT: "input"` exists) would reach _ToSyntax as well.
    The grammar refers to such terminals by name only.
    """
    names = _TERMINAL_DEFINITION.findall(grammar_text())
    return frozenset(name for name in names if not name.startswith("_"))


def parse(source: Source, parser: Lark | None = None) -> syntax.Spec:
    """Parse `source` into a Spec; raise CnnDslError with the position of a syntax error.

    `parser` is one that make_parser built; by default, the one with lark-cython when it is installed.
    """
    _current.source = source
    try:
        statements, _ = (parser or _lark()).parse(source.text + "\n")
    except UnexpectedInput as error:
        diagnostic = dataclasses.replace(_syntax_diagnostic(source, error), source=source)
        raise CnnDslError(source, [diagnostic]) from None
    finally:
        _current.source = None
    return syntax.Spec(source=source, statements=tuple(statements))


class _Reductions:
    """The callbacks that Lark's LALR parser calls when it reduces a rule, one attribute per rule.

    Each callback receives the rule's children: tokens, and the `(node, span)`
    pairs of the rules reduced before. It computes the node's span, from the
    start of its first token to the end of its last one (as Lark's
    propagate_positions would), keeps the tokens that _ToSyntax needs and calls
    the _ToSyntax method of the same name. Building nodes as the parser reduces
    saves building a parse tree and walking it, and needs no recursion however
    deeply a spec nests.
    """

    def __init__(self, kept: frozenset[str]):
        builder = _ToSyntax()
        for rule in _RULES:
            setattr(self, rule, _reduction(getattr(builder, rule), kept))


def _reduction(convert, kept: frozenset[str]):
    def reduce(children: list):
        if len(children) == 1 and children[0].__class__ is tuple:
            node, span = children[0]  # a node whose span is its only child's, such as an option's value
            return convert(span, [node]), span

        parts = []
        first = last = None  # the first and last child that has a position
        for child in children:
            if child.__class__ is tuple:
                node, span = child
                parts.append(node)
                if span is not None:
                    first = first or span
                    last = span
            else:
                first = first or child
                last = child
                if child.type in kept:
                    parts.append(child)
        span = Span(first.line, first.column, last.end_line, last.end_column) if first is not None else None
        return convert(span, parts), span

    return reduce


def _token_span(token: Token) -> Span:
    return Span(token.line, token.column, token.end_line, token.end_column)


class _ToSyntax:
    """Build frozen syntax nodes; all validation happens later, on the nodes.

    Each function is named after a grammar rule (or its `-> alias`) and
    receives the node's span and its converted children, without keywords and
    brackets.
    """

    @property
    def source(self) -> Source:
        """The source being parsed in this thread."""
        return _current.source

    def atom(self, span, children):
        # `( expression )` inside arithmetic; Lark inlines it unless every token is kept.
        return children[0]

    def start(self, span, children):
        return children

    def network_decl(self, span, children):
        return syntax.NetworkDecl(name=str(children[0]), span=span)

    def input_decl(self, span, children):
        children = children[1:]  # the INPUT keyword token
        name = str(children[0]) if len(children) == 2 else None
        return syntax.InputDecl(shape=children[-1], span=span, name=name)

    def output_decl(self, span, children):
        return syntax.OutputDecl(names=tuple(str(token) for token in children),
                                 spans=tuple(_token_span(token) for token in children), span=span)

    def use_decl(self, span, children):
        return syntax.UseDecl(path=str(children[0])[1:-1], span=span)

    def block_def(self, span, children):
        callee, *params, body = children
        return syntax.BlockDef(name=str(callee)[:-1], name_span=_callee_span(callee), params=tuple(params),
                               body=body, span=span, source=self.source)

    def train_decl(self, span, children):
        return syntax.TrainDecl(settings=children[0], span=span)

    def param(self, span, children):
        default = _value(children[1]) if len(children) == 2 else None
        return syntax.Param(name=str(children[0]), span=span, default=default)

    def body(self, span, children):
        return tuple(children)

    def chain(self, span, children):
        binding = children[-1] if isinstance(children[-1], _TOKEN_CLASSES) else None
        steps = children[:-1] if binding is not None else children
        return syntax.Chain(steps=tuple(steps), span=span,
                            binding=str(binding) if binding is not None else None,
                            binding_span=_token_span(binding) if binding is not None else None)

    def input_reference(self, span, children):
        token = children[0]
        return syntax.LayerCall(kind=str(token), kind_span=span, options=(), span=span)

    def layer(self, span, children):
        kind, *options = children
        return syntax.LayerCall(kind=str(kind), kind_span=_token_span(kind), options=_options(options), span=span)

    def call(self, span, children):
        callee, *rest = children
        repeat = rest.pop() if rest and isinstance(rest[-1], syntax.Repeat) else None
        return syntax.Call(callee=str(callee)[:-1], callee_span=_callee_span(callee), arguments=tuple(rest),
                           span=span, repeat=repeat)

    def repeat(self, span, children):
        count, *first = children
        first_name = None
        if first and isinstance(first[0], _TOKEN_CLASSES):
            first_name = str(first[0])[:-1]  # the `first(` token; the resolver checks the name
            first = first[1:]
        digits = str(count)[1:]
        if integer_too_large(digits):
            # int() refuses more than 4,300 digits, and the resolver limits the layer count anyway.
            raise CnnDslError(self.source, [Diagnostic(
                Severity.ERROR, f"the repeat count `x{shortened(digits)}` is too large", _token_span(count),
                f"repeat a block at most {MAX_INTEGER:,} times (the network is limited to far fewer layers)",
                self.source)])
        return syntax.Repeat(count=int(digits), span=span, first=tuple(first), first_name=first_name)

    def residual(self, span, children):
        body, *rest = children
        condition = next((token for token in rest if isinstance(token, _TOKEN_CLASSES)), None)
        shortcut = rest[-1] if rest else None
        return syntax.Residual(body=body, span=span, shortcut=shortcut,
                               condition=str(condition) if condition is not None else None,
                               condition_span=_token_span(condition) if condition is not None else None)

    def parallel(self, span, children):
        merge, *options, branches = children
        return syntax.Parallel(merge=str(merge), merge_span=_token_span(merge), options=_options(options),
                               branches=branches, span=span)

    def positional(self, span, children):
        return syntax.Option(value=_value(children[0]), span=span)

    def keyword(self, span, children):
        name, value = children
        return syntax.Option(value=_value(value), span=span, keyword=str(name))

    def _single_token(kind: ValueKind):
        def build(self, span, children):
            return Value(kind=kind, text=str(children[0]), span=span)  # the span of the rule's one token

        return build

    size = _single_token(ValueKind.SIZE)  # an input shape
    number = _single_token(ValueKind.NUMBER)  # an input shape, or in arithmetic
    word = _single_token(ValueKind.WORD)  # in arithmetic
    del _single_token

    def negative(self, span, children):
        return Value(kind=ValueKind.NUMBER, text="-" + str(children[0]), span=span)

    def negative_fraction(self, span, children):
        return Value(kind=ValueKind.FRACTION, text="-" + str(children[0]), span=span)

    def expression(self, span, children):
        text = self.source.line(span.line)[span.column - 1 : span.end_column - 1] if span.line == span.end_line \
            else "(...)"
        return Value(kind=ValueKind.EXPRESSION, text=text, span=span, expression=children[0])

    def _operation(operator: str):
        def build(self, span, children):
            return syntax.BinaryOperation(operator, children[0], children[1], span)

        return build

    add = _operation("+")
    subtract = _operation("-")
    multiply = _operation("*")
    floor_divide = _operation("//")
    del _operation


# The rules and aliases of grammars/cnn.lark that reach a callback; a test
# checks that the list matches the grammar.
_RULES = tuple(name for name in vars(_ToSyntax) if not name.startswith("_") and name != "source")


# The value kind of a value written as one token (see `?value` in grammars/cnn.lark).
_TOKEN_VALUES = {"SIZE": ValueKind.SIZE, "FRACTION": ValueKind.FRACTION, "NUMBER": ValueKind.NUMBER,
                 "NAME": ValueKind.WORD, "INPUT": ValueKind.WORD}


def _value(child) -> Value:
    """Return a value: a token of one of _TOKEN_VALUES becomes one, a Value stays as it is."""
    if child.__class__ is Value:
        return child
    return Value(kind=_TOKEN_VALUES[child.type], text=str(child), span=_token_span(child))


def _options(options: list) -> tuple[syntax.Option, ...]:
    """Return the options of a layer or parallel: `keyword=value` ones as they are, bare values made positional."""
    converted = []
    for option in options:
        if option.__class__ is not syntax.Option:
            value = _value(option)
            option = syntax.Option(value=value, span=value.span)
        converted.append(option)
    return tuple(converted)


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


# Terminal descriptions for a position where a chain step may follow (a block call is expected there).
# A name there most likely starts a layer.
STEP_WORDS = {**TERMINAL_WORDS, "NAME": "a layer such as `relu`"}


def _expected_fix(error: UnexpectedToken) -> str | None:
    words = STEP_WORDS if "CALLEE" in error.expected else TERMINAL_WORDS
    expected = sorted({words[name] for name in error.expected if name in words})
    if not expected:
        return None
    return "expected " + ", ".join(expected[:-1]) + (" or " if len(expected) > 1 else "") + expected[-1]

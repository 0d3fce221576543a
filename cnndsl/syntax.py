"""Syntax tree of a .cnn spec: frozen nodes that each carry their source span."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import NamedTuple


@dataclass(frozen=True)
class Source:
    """The text of a spec and the name it is reported under (a path or `<stdin>`)."""

    name: str
    text: str
    lines: tuple[str, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Split at "\n" only, as Lark counts lines: str.splitlines() also breaks
        # at form feeds, U+2028 and other characters that a comment may contain,
        # which would shift every line number after them.
        lines = self.text.split("\n")
        if lines[-1] == "":
            lines.pop()
        object.__setattr__(self, "lines", tuple(line.removesuffix("\r") for line in lines))

    def line(self, number: int) -> str:
        """Return line `number` (1-based), or "" past the end of the text."""
        if 1 <= number <= len(self.lines):
            return self.lines[number - 1]
        return ""


class Span(NamedTuple):
    """A range of source text; lines and columns are 1-based, the end is exclusive.

    A named tuple rather than a frozen dataclass, because a long spec has
    several spans per layer and a tuple is made in less than half the time.
    """

    line: int
    column: int
    end_line: int
    end_column: int

    def to(self, other: Span) -> Span:
        """Return the span from the start of this one to the end of `other`."""
        return Span(self.line, self.column, other.end_line, other.end_column)


class ValueKind(enum.Enum):
    SIZE = "size"
    FRACTION = "fraction"
    NUMBER = "number"
    WORD = "word"
    EXPRESSION = "expression"


@dataclass(frozen=True)
class Value:
    """One literal as written: `28x28x1`, `1/255`, `0.5`, a word such as `same`, or `(4 * filters)`.

    For an EXPRESSION, `expression` is the arithmetic and `text` the source text.
    """

    kind: ValueKind
    text: str
    span: Span
    expression: Expression | None = None


@dataclass(frozen=True)
class BinaryOperation:
    """Arithmetic on block parameters: `4 * filters`; operands are Values or operations."""

    operator: str
    left: Value | BinaryOperation
    right: Value | BinaryOperation
    span: Span


Expression = Value | BinaryOperation


@dataclass(frozen=True)
class Option:
    """A layer option or call argument: a bare value, or `keyword=value` when `keyword` is set."""

    value: Value
    span: Span
    keyword: str | None = None


@dataclass(frozen=True)
class LayerCall:
    """A layer as written: its kind (`conv`) and its options in source order.

    A chain may also start with a bare tensor name (`skip > conv ...`); the
    parser cannot tell the two apart, so the resolver does.
    """

    kind: str
    kind_span: Span
    options: tuple[Option, ...]
    span: Span


@dataclass(frozen=True)
class Repeat:
    """`x3 first(stride=2)`: how many copies of a block, and the first copy's own arguments."""

    count: int
    span: Span
    first: tuple[Option, ...] = ()
    first_name: str | None = None  # the word before the parenthesis; only `first` is valid


@dataclass(frozen=True)
class Call:
    """A block call or a merge: `bottleneck(64) x3`, `add(a, b)`."""

    callee: str
    callee_span: Span
    arguments: tuple[Option, ...]
    span: Span
    repeat: Repeat | None = None


@dataclass(frozen=True)
class Residual:
    """`residual { body } shortcut if FLAG { projection }`: the body's result added to a shortcut."""

    body: tuple[Statement, ...]
    span: Span
    shortcut: tuple[Statement, ...] | None = None
    condition: str | None = None
    condition_span: Span | None = None


@dataclass(frozen=True)
class Parallel:
    """`parallel concat { branch per line }`: branches fed the same tensor, joined by one merge."""

    merge: str
    merge_span: Span
    options: tuple[Option, ...]
    branches: tuple[Statement, ...]
    span: Span


Step = LayerCall | Call | Residual | Parallel


@dataclass(frozen=True)
class Chain:
    """Steps joined by `>`, optionally bound to a tensor name with `-> name`."""

    steps: tuple[Step, ...]
    span: Span
    binding: str | None = None
    binding_span: Span | None = None


@dataclass(frozen=True)
class NetworkDecl:
    name: str
    span: Span


@dataclass(frozen=True)
class InputDecl:
    shape: Value
    span: Span
    name: str | None = None


@dataclass(frozen=True)
class OutputDecl:
    names: tuple[str, ...]
    spans: tuple[Span, ...]
    span: Span


@dataclass(frozen=True)
class UseDecl:
    """`use "blocks.cnn"`: import the blocks of another spec, relative to this one."""

    path: str
    span: Span


@dataclass(frozen=True)
class Param:
    name: str
    span: Span
    default: Value | None = None


@dataclass(frozen=True)
class BlockDef:
    """`block name(params) { body }`: a reusable piece of network."""

    name: str
    name_span: Span
    params: tuple[Param, ...]
    body: tuple[Statement, ...]
    span: Span
    source: Source | None = None


@dataclass(frozen=True)
class TrainDecl:
    """`train { ... }`: training settings, each written like a layer (`optimizer sgd learning_rate=0.01`)."""

    settings: tuple[Statement, ...]
    span: Span


Statement = NetworkDecl | InputDecl | OutputDecl | UseDecl | BlockDef | TrainDecl | Chain


@dataclass(frozen=True)
class Spec:
    """A parsed spec: its statements in source order."""

    source: Source
    statements: tuple[Statement, ...]

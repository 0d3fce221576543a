"""Syntax tree of a .cnn spec: frozen nodes that each carry their source span."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Source:
    """The text of a spec and the name it is reported under (a path or `<stdin>`)."""

    name: str
    text: str
    lines: tuple[str, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", tuple(self.text.splitlines()))

    def line(self, number: int) -> str:
        """Return line `number` (1-based), or "" past the end of the text."""
        if 1 <= number <= len(self.lines):
            return self.lines[number - 1]
        return ""


@dataclass(frozen=True)
class Span:
    """A range of source text; lines and columns are 1-based, the end is exclusive."""

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


@dataclass(frozen=True)
class Value:
    """One literal as written: `28x28x1`, `1/255`, `0.5` or a word such as `same`."""

    kind: ValueKind
    text: str
    span: Span


@dataclass(frozen=True)
class Option:
    """A layer option: a bare value, or `keyword=value` when `keyword` is set."""

    value: Value
    span: Span
    keyword: str | None = None


@dataclass(frozen=True)
class LayerCall:
    """A layer as written: its kind (`conv`) and its options in source order."""

    kind: str
    kind_span: Span
    options: tuple[Option, ...]
    span: Span


@dataclass(frozen=True)
class Chain:
    """Layers joined by `>` on one line (or across lines ending in `>`)."""

    layers: tuple[LayerCall, ...]
    span: Span


@dataclass(frozen=True)
class NetworkDecl:
    name: str
    span: Span


@dataclass(frozen=True)
class InputDecl:
    shape: Value
    span: Span


Statement = NetworkDecl | InputDecl | Chain


@dataclass(frozen=True)
class Spec:
    """A parsed spec: its statements in source order."""

    source: Source
    statements: tuple[Statement, ...]

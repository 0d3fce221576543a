"""Diagnostics (errors and warnings with a source position) and their formatting."""

from __future__ import annotations

import difflib
import enum
from dataclasses import dataclass
from typing import Iterable

from cnndsl.syntax import Source, Span


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Diagnostic:
    """One finding about a spec: what is wrong, where, and how to fix it."""

    severity: Severity
    message: str
    span: Span | None = None
    fix: str | None = None
    source: Source | None = None  # set when the finding is in another file (a `use`d spec)


class CnnDslError(Exception):
    """Raised when a spec is invalid; carries every error found in one run."""

    def __init__(self, source: Source | None, diagnostics: Iterable[Diagnostic]):
        self.source = source
        self.diagnostics = tuple(diagnostics)
        super().__init__(format_diagnostics(source, self.diagnostics))

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Severity.ERROR)


class OptionError(Exception):
    """Raised by layer rules for a bad option value; the resolver adds the position."""

    def __init__(self, message: str, fix: str | None = None):
        super().__init__(message)
        self.message = message
        self.fix = fix


class ShapeError(OptionError):
    """Raised by a shape rule when Keras would reject the layer's input."""


class MergeMismatch(ShapeError):
    """Raised by a merge rule when two inputs disagree; the checker names where each came from.

    `first` and `second` index the merge's inputs; `axis` is the axis (without
    batch) that differs, or None when the ranks differ.
    """

    def __init__(self, first: int, second: int, axis: int | None, fix: str):
        super().__init__("inputs differ", fix)
        self.first = first
        self.second = second
        self.axis = axis


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """Return a "did you mean" hint naming the closest candidates, if any are close."""
    matches = difflib.get_close_matches(name, sorted(set(candidates)), n=3, cutoff=0.6)
    if not matches:
        return None
    quoted = " or ".join(f"`{match}`" for match in matches)
    return f"did you mean {quoted}?"


def format_diagnostic(source: Source | None, diagnostic: Diagnostic) -> str:
    """Format one diagnostic as `file:line:col: error: ...` with the source line and a caret."""
    source = diagnostic.source or source
    name = source.name if source else "<spec>"
    span = diagnostic.span
    head = f"{name}:{span.line}:{span.column}" if span else name
    lines = [f"{head}: {diagnostic.severity.value}: {diagnostic.message}"]

    if span and source:
        text = source.line(span.line).expandtabs(1)
        width = len(text) - span.column + 1
        if span.end_line == span.line:
            width = span.end_column - span.column
        gutter = f"{span.line:>4} | "
        lines.append(gutter + text)
        lines.append(" " * (len(gutter) - 2) + "| " + " " * (span.column - 1) + "^" * max(1, width))

    if diagnostic.fix:
        lines.append(f"     = fix: {diagnostic.fix}")
    return "\n".join(lines)


def format_diagnostics(source: Source | None, diagnostics: Iterable[Diagnostic]) -> str:
    """Format several diagnostics, separated by blank lines, with an error count last."""
    diagnostics = tuple(diagnostics)
    blocks = [format_diagnostic(source, d) for d in diagnostics]
    errors = sum(1 for d in diagnostics if d.severity is Severity.ERROR)
    if errors:
        blocks.append(f"{errors} error{'s' if errors != 1 else ''} found")
    return "\n\n".join(blocks)

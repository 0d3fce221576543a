"""Diagnostics (errors and warnings with a source position) and their formatting."""

from __future__ import annotations

import difflib
import enum
import re
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


def shortened(text: str) -> str:
    """Return `text` shortened for a message, so that a huge literal does not flood the terminal."""
    return text if len(text) <= 24 else text[:20] + "…"


# A quoted value longer than this in a message is user text, such as a
# megabyte-long word; format_diagnostic shortens it with shortened().
_LONG_QUOTED = re.compile(r"`([^`\n]{41,})`")


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """Return a "did you mean" hint naming the closest candidates, if any are close."""
    matches = difflib.get_close_matches(name, sorted(set(candidates)), n=3, cutoff=0.6)
    if not matches:
        return None
    quoted = " or ".join(f"`{match}`" for match in matches)
    return f"did you mean {quoted}?"


# A spec with thousands of mistakes, or one line of a megabyte, must still give
# a message of readable size: at most this many diagnostics are printed, each
# with at most EXCERPT_WIDTH characters of its source line.
MAX_SHOWN_DIAGNOSTICS = 50
EXCERPT_WIDTH = 120


def _excerpt(text: str, column: int, width: int) -> tuple[str, int, int]:
    """Cut a long source line to EXCERPT_WIDTH characters around `column`.

    Returns the excerpt, the column and the caret width within it; "…" marks
    the cut ends.
    """
    if len(text) <= EXCERPT_WIDTH:
        return text, column, width
    start = max(0, min(column - 1 - EXCERPT_WIDTH // 3, len(text) - EXCERPT_WIDTH))
    end = start + EXCERPT_WIDTH
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    column = column - start + len(prefix)
    visible = len(prefix) + EXCERPT_WIDTH - (column - 1)  # characters from the caret to the cut
    return prefix + text[start:end] + suffix, column, max(1, min(width, visible))


def format_diagnostic(source: Source | None, diagnostic: Diagnostic) -> str:
    """Format one diagnostic as `file:line:col: error: ...` with the source line and a caret."""
    source = diagnostic.source or source
    name = source.name if source else "<spec>"
    span = diagnostic.span
    head = f"{name}:{span.line}:{span.column}" if span else name
    message = _LONG_QUOTED.sub(lambda match: f"`{shortened(match.group(1))}`", diagnostic.message)
    lines = [f"{head}: {diagnostic.severity.value}: {message}"]

    if span and source:
        text = source.line(span.line).expandtabs(1)
        width = len(text) - span.column + 1
        if span.end_line == span.line:
            width = span.end_column - span.column
        text, column, width = _excerpt(text, span.column, width)
        gutter = f"{span.line:>4} | "
        lines.append(gutter + text)
        lines.append(" " * (len(gutter) - 2) + "| " + " " * (column - 1) + "^" * max(1, width))

    if diagnostic.fix:
        fix = _LONG_QUOTED.sub(lambda match: f"`{shortened(match.group(1))}`", diagnostic.fix)
        lines.append(f"     = fix: {fix}")
    return "\n".join(lines)


def format_diagnostics(source: Source | None, diagnostics: Iterable[Diagnostic]) -> str:
    """Format several diagnostics, separated by blank lines, with an error count last."""
    diagnostics = tuple(diagnostics)
    blocks = [format_diagnostic(source, d) for d in diagnostics[:MAX_SHOWN_DIAGNOSTICS]]
    hidden = len(diagnostics) - MAX_SHOWN_DIAGNOSTICS
    if hidden > 0:
        blocks.append(f"... and {hidden:,} more errors and warnings, not shown; fix the ones above first")
    errors = sum(1 for d in diagnostics if d.severity is Severity.ERROR)
    if errors:
        blocks.append(f"{errors} error{'s' if errors != 1 else ''} found")
    return "\n\n".join(blocks)

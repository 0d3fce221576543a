"""The front half of the compiler: parse, resolve and check a spec."""

from __future__ import annotations

from dataclasses import dataclass

from cnndsl.checker import check
from cnndsl.errors import CnnDslError, Diagnostic, Severity
from cnndsl.graph import Network
from cnndsl.parser import parse
from cnndsl.resolve import resolve
from cnndsl.syntax import Source


@dataclass
class Checked:
    """A network that passed the checker, with the warnings found on the way."""

    network: Network
    warnings: list[Diagnostic]


def analyse(source: Source) -> Checked:
    """Parse, resolve and check `source`; raise CnnDslError listing every error found."""
    spec = parse(source)
    network, diagnostics = resolve(spec)
    diagnostics += check(network)

    if any(d.severity is Severity.ERROR for d in diagnostics):
        raise CnnDslError(source, _by_position(diagnostics))
    return Checked(network, _by_position(diagnostics))


def analyse_text(text: str, name: str = "<spec>") -> Checked:
    return analyse(Source(name, text))


def _by_position(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    return sorted(diagnostics, key=lambda d: (d.span.line, d.span.column) if d.span else (0, 0))

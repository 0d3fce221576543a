"""The front half of the compiler: parse, resolve and check a spec."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Iterator

from cnndsl.checker import check
from cnndsl.errors import CnnDslError, Diagnostic, Severity
from cnndsl.graph import Network
from cnndsl.parser import parse
from cnndsl.resolve import prune_unreachable, resolve
from cnndsl.syntax import Source, Spec


@dataclass
class Checked:
    """A network that passed the checker, with the warnings found on the way and its syntax tree."""

    network: Network
    warnings: list[Diagnostic]
    spec: Spec


def analyse(source: Source) -> Checked:
    """Parse, resolve and check `source`; raise CnnDslError listing every error found."""
    with collector_paused():
        spec = parse(source)
        network, diagnostics = resolve(spec)
        diagnostics += check(network)
        if not any(d.severity is Severity.ERROR for d in diagnostics):
            diagnostics += prune_unreachable(network)

    if any(d.severity is Severity.ERROR for d in diagnostics):
        raise CnnDslError(source, _by_position(diagnostics))
    return Checked(network, _by_position(diagnostics), spec)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector, and restore its state afterwards.

    Parsing and resolving allocate several container objects per layer but
    create almost no reference cycles, so collection passes scan them in vain.
    Pausing the collector made checking the 10,000-layer specs of bench/ about
    25% faster.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def analyse_text(text: str, name: str = "<spec>") -> Checked:
    return analyse(Source(name, text))


def _by_position(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Sort by position and merge the copies that a block body produces once per instance."""
    groups: dict[tuple, list[Diagnostic]] = {}
    for diagnostic in diagnostics:
        message = diagnostic.message.split(" (in block ")[0]
        source = diagnostic.source.name if diagnostic.source else None
        groups.setdefault((source, diagnostic.span, diagnostic.severity, message), []).append(diagnostic)

    merged = []
    for (_, _, _, message), copies in groups.items():
        first = copies[0]
        if len(copies) > 1:
            first = replace(first, message=f"{first.message} (and {len(copies) - 1} more "
                                           f"instance{'s' if len(copies) > 2 else ''} of the block)")
        merged.append(first)
    return sorted(merged, key=lambda d: (d.span.line, d.span.column) if d.span else (0, 0))

"""Collect the blocks a spec can call: its own and those of the files it `use`s.

A `use "path"` is resolved relative to the directory of the file that
contains it (the current directory for standard input). Every file is
imported once. A file that imports itself through a chain of `use` lines is
an error, reported at the `use` line that closes the cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cnndsl import syntax
from cnndsl.errors import CnnDslError, Diagnostic, Severity
from cnndsl.layers import KINDS_BY_NAME
from cnndsl.syntax import Source, Span

RESERVED_BLOCK_NAMES = {"first", "identity"}

# Each imported file is collected one Python call deeper than the file that
# imports it, so chains of `use` lines are limited well below the recursion limit.
MAX_IMPORT_DEPTH = 50


@dataclass
class BlockTable:
    """Blocks by name, with the diagnostics found while collecting them."""

    blocks: dict[str, syntax.BlockDef] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def error(self, source: Source, message: str, span: Span | None, fix: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(Severity.ERROR, message, span, fix, source))


def collect_blocks(spec: syntax.Spec) -> BlockTable:
    """Return every block defined in `spec` or in the files it imports, directly or not."""
    table = BlockTable()
    _collect(spec, table, stack=[_identity(spec.source)], seen=set())
    return table


def _identity(source: Source) -> str:
    if source.name in ("<stdin>", "<spec>"):
        return source.name
    return str(Path(source.name).resolve())


def _collect(spec: syntax.Spec, table: BlockTable, stack: list[str], seen: set[str]) -> None:
    for statement in spec.statements:
        if isinstance(statement, syntax.BlockDef):
            _add_block(statement, spec.source, table)
        elif isinstance(statement, syntax.UseDecl):
            _import(statement, spec.source, table, stack, seen)


def _add_block(block: syntax.BlockDef, source: Source, table: BlockTable) -> None:
    if block.name in KINDS_BY_NAME or block.name in RESERVED_BLOCK_NAMES:
        # Still registered, so that its calls do not each report an unknown block.
        table.error(source, f"`{block.name}` is a layer kind or reserved word and cannot name a block",
                    block.name_span, "choose another block name")
    previous = table.blocks.get(block.name)
    if previous is not None:
        where = f"{Path(previous.source.name).name}:{previous.span.line}" if previous.source else "elsewhere"
        table.error(source, f"block `{block.name}` is defined twice (first at {where})", block.name_span,
                    "rename one of the two blocks")
        return
    table.blocks[block.name] = block


def _import(use: syntax.UseDecl, source: Source, table: BlockTable, stack: list[str], seen: set[str]) -> None:
    from cnndsl.parser import parse

    base = Path.cwd() if source.name in ("<stdin>", "<spec>") else Path(source.name).resolve().parent
    path = (base / use.path).resolve()
    identity = str(path)

    if identity in stack:
        cycle = " -> ".join(Path(item).name for item in [*stack[stack.index(identity):], identity])
        table.error(source, f"import cycle: {cycle}", use.span, "remove one of the `use` lines in the cycle")
        return
    if identity in seen:
        return
    seen.add(identity)
    if len(stack) > MAX_IMPORT_DEPTH:
        table.error(source, f"`use` lines are nested more than {MAX_IMPORT_DEPTH} files deep", use.span,
                    "import the blocks from fewer levels of files")
        return
    if path.exists() and not path.is_file():
        # A directory, a device such as /dev/zero or a pipe never ends or is not a spec.
        table.error(source, f"cannot read `{use.path}` ({path}): not a regular file", use.span,
                    "`use` names a .cnn file, relative to the file that contains the `use` line")
        return

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = "no such file" if isinstance(error, FileNotFoundError) else str(error)
        table.error(source, f"cannot read `{use.path}` ({path}): {reason}", use.span,
                    "paths in `use` are relative to the file that contains the `use` line")
        return

    try:
        imported = parse(Source(str(path), text))
    except CnnDslError as error:
        table.diagnostics.extend(error.diagnostics)
        return
    _collect(imported, table, [*stack, identity], seen)

"""Load the LALR parser from a cache file instead of building it on every start.

Building the LALR tables of grammars/cnn.lark takes longer than parsing and
checking ResNet-50 (see the cold start section of docs/benchmarks.md), and
every `cnndsl` process would pay for it. Lark can save a built parser and load
it back, so the first run saves it and later runs load it.

The cache file lives in $CNNDSL_CACHE_DIR, else $XDG_CACHE_HOME/cnndsl, else
~/.cache/cnndsl; an empty CNNDSL_CACHE_DIR turns the cache off. The file name
contains a hash of the grammar, the parser options, the Lark version and the
Python version, so an edited grammar or an upgraded Lark never loads a stale
parser. The cache only saves time: when the file cannot be read or written,
the parser is built as if there were no cache.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import lark

LOGGER = logging.getLogger(__name__)

CACHE_DIR_VARIABLE = "CNNDSL_CACHE_DIR"

# Cache files of other grammar versions are deleted once they are this old,
# so that editing the grammar does not fill the directory over time.
STALE_AFTER_SECONDS = 30 * 24 * 3600


def cached_parser(grammar: str, options: dict[str, Any], live: dict[str, Any] | None = None) -> lark.Lark:
    """Return `Lark(grammar, **options, **live)`, loaded from the cache when a fresh copy is there.

    `live` contains objects that the cache file does not store and its name
    does not depend on, such as the transformer. Lark accepts them when it
    loads a saved parser (lark.lark._LOAD_ALLOWED_OPTIONS lists them).
    """
    live = live or {}
    directory = cache_directory()
    if directory is None:
        return lark.Lark(grammar, **options, **live)

    path = cache_path(grammar, options, directory)
    parser = _load(path, live)
    if parser is None:
        parser = lark.Lark(grammar, **options, **live)
        _store(parser, path, exclude=tuple(live))
    return parser


def cache_directory() -> Path | None:
    """Return the directory of the parser cache, or None when the cache is off."""
    configured = os.environ.get(CACHE_DIR_VARIABLE)
    if configured is not None:
        return Path(configured) if configured else None

    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no home directory, e.g. an unknown user id in a container
            return None
    return Path(base) / "cnndsl"


def cache_path(grammar: str, options: dict[str, Any], directory: Path) -> Path:
    """Return the cache file in `directory` of this grammar, these options, this Lark and this Python."""
    key = "\0".join([grammar, repr(sorted(options.items())), lark.__version__, sys.version])
    return directory / f"parser-{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}.pickle"


def _load(path: Path, live: dict[str, Any]) -> lark.Lark | None:
    try:
        with path.open("rb") as file:
            # Lark.load takes no options; Lark's own cache loads through _load to pass them.
            return lark.Lark.__new__(lark.Lark)._load(file, **live)
    except FileNotFoundError:
        return None
    except Exception as error:  # noqa: BLE001 - any unreadable file (truncated, corrupt, a directory) is rebuilt
        LOGGER.debug("cannot load the parser cache %s (%s: %s); building the parser", path,
                     type(error).__name__, error)
        return None


def _store(parser: lark.Lark, path: Path, exclude: tuple[str, ...]) -> None:
    """Save `parser` to `path` through a temporary file, so that no process ever reads a partial file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # The file is a pickle, so it is written readable by its owner only.
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(handle, "wb") as file:
            parser.save(file, exclude_options=exclude)
        os.replace(temporary, path)
    except OSError as error:
        LOGGER.debug("cannot write the parser cache %s (%s)", path, error)
        _remove(temporary)
        return
    _remove_stale(path)


def _remove_stale(current: Path) -> None:
    limit = time.time() - STALE_AFTER_SECONDS
    try:
        for path in current.parent.glob("parser-*.pickle"):
            if path != current and path.stat().st_mtime < limit:
                _remove(path)
    except OSError as error:
        LOGGER.debug("cannot list the parser cache directory %s (%s)", current.parent, error)


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass  # a leftover file is harmless, because cnndsl never reads it

"""Atomic output files: everything is written to temporary files first, then renamed.

A compile either replaces all of its outputs or none, so a failure never
leaves a half-written file or a mix of old and new outputs behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable


class OutputError(Exception):
    """Raised when an output file cannot be written; the message names the path and the fix."""


def ensure_directory(directory: Path) -> None:
    """Create the output directory if needed; raise OutputError when it cannot be used."""
    if directory.is_dir():
        return
    if directory.exists():
        raise OutputError(f"the output path {directory} exists and is not a directory; choose another with -o DIR")
    try:
        directory.mkdir(parents=True)
    except OSError as error:
        raise OutputError(f"cannot create the output directory {directory}: {error.strerror}; "
                          "choose another with -o DIR") from None


class StagedOutputs:
    """Collects output files in temporary files beside their targets and commits them together."""

    def __init__(self, directory: Path, protected: Path | None = None):
        self.directory = directory
        self.protected = protected.resolve() if protected else None
        self.staged: list[tuple[Path, Path]] = []

    def __enter__(self) -> StagedOutputs:
        return self

    def __exit__(self, error_type, error, traceback) -> None:
        if error_type is not None:
            self.discard()

    def target(self, file_name: str) -> Path:
        path = self.directory / file_name
        if self.protected is not None and path.resolve() == self.protected:
            raise OutputError(f"the output {path} would overwrite the input spec; write the outputs "
                              "elsewhere with -o DIR")
        return path

    def write_bytes(self, file_name: str, data: bytes) -> None:
        self.write_with(file_name, lambda temporary: temporary.write_bytes(data))

    def write_text(self, file_name: str, text: str) -> None:
        self.write_bytes(file_name, text.encode("utf-8"))

    def write_with(self, file_name: str, writer: Callable[[Path], None]) -> None:
        """Stage `file_name`, produced by `writer(temporary_path)`; the temporary keeps the suffix."""
        target = self.target(file_name)
        try:
            handle, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=target.suffix, dir=self.directory)
        except OSError as error:
            raise OutputError(f"cannot write to {self.directory}: {error.strerror}; choose a writable "
                              "directory with -o DIR") from None
        os.close(handle)
        temporary = Path(name)
        self.staged.append((temporary, target))
        writer(temporary)

    def commit(self) -> list[Path]:
        """Move every staged file over its target and return the targets."""
        targets = []
        for temporary, target in self.staged:
            try:
                os.chmod(temporary, 0o644)
                os.replace(temporary, target)
            except OSError as error:
                raise OutputError(f"cannot write {target}: {error.strerror}") from None
            targets.append(target)
        self.staged = []
        return targets

    def discard(self) -> None:
        for temporary, _ in self.staged:
            temporary.unlink(missing_ok=True)
        self.staged = []

"""The errors that `cnndsl train` reports as plain messages with exit code 1."""

from __future__ import annotations


class TrainingError(Exception):
    """Raised when training cannot start: conflicting options, an unusable network or strategy."""


class DataError(TrainingError):
    """Raised for missing, corrupt or mismatched training data; the message names the file and the fix."""

"""Exceptions raised by histomammo.

Every exception the library raises on purpose derives from
[`HistomammoError`][histomammo.errors.HistomammoError]
and also from the builtin that describes the failure best, so that callers may catch
either ``histomammo.errors.DataFormatError`` or plain ``ValueError``.

Messages name the file (where there is one), what was found and what was expected.

Examples
--------
>>> from histomammo.errors import DataFormatError
>>> try:
...     raise DataFormatError("scan.dcm: no Pixel Data element; expected an image")
... except ValueError as err:
...     print(type(err).__name__)
DataFormatError
"""

from __future__ import annotations

__all__ = [
    "HistomammoError",
    "DataFormatError",
    "MissingFileError",
    "MissingDependencyError",
    "CheckpointError",
    "NonFiniteLossError",
]


class HistomammoError(Exception):
    """Base class of every exception histomammo raises on purpose."""


class DataFormatError(HistomammoError, ValueError):
    """A file is not what its format promises (truncated, corrupt, wrong shape or dtype)."""


class MissingFileError(DataFormatError, FileNotFoundError):
    """A file a reader was given does not exist.

    It is both a [`DataFormatError`][histomammo.errors.DataFormatError], so that ``except
    DataFormatError`` catches every
    unreadable input, and a `FileNotFoundError`, as the standard library would raise.
    """


class MissingDependencyError(HistomammoError, ImportError):
    """An optional package needed for this call is not installed; the message says how to."""


class CheckpointError(HistomammoError, RuntimeError):
    """A checkpoint is missing, unreadable, incompatible or unsafe to load."""


class NonFiniteLossError(HistomammoError, FloatingPointError):
    """Training produced a NaN or infinite loss."""

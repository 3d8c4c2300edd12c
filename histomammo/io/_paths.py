"""The checks every reader makes before it opens a path, and while it holds it open."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from histomammo.errors import DataFormatError, MissingFileError

__all__ = ["FileStamp", "file_stamp", "require_file"]


def require_file(path: Path, expected: str) -> None:
    """Raise unless ``path`` is an existing regular file.

    Parameters
    ----------
    path : Path
        The path a reader was given.
    expected : str
        What the reader expects, for the message, e.g. ``"a DICOM file"``.

    Raises
    ------
    MissingFileError
        ``path`` does not exist (also a ``FileNotFoundError``).
    DataFormatError
        ``path`` exists but is not a regular file (a directory, for instance).

    Examples
    --------
    >>> from pathlib import Path
    >>> try:
    ...     require_file(Path("absent.h5"), "an HDF5 file")
    ... except FileNotFoundError as err:
    ...     print(err)
    absent.h5: no such file; expected an HDF5 file
    """
    if not path.exists():
        raise MissingFileError(f"{path}: no such file; expected {expected}")
    if not path.is_file():
        raise DataFormatError(f"{path}: not a regular file; expected {expected}")


@dataclass(frozen=True)
class FileStamp:
    """What identifies one version of a file: rewriting, truncating or replacing it (a new
    inode at the same path) changes it."""

    device: int
    inode: int
    size: int
    mtime_ns: int


def file_stamp(status: os.stat_result) -> FileStamp:
    """The stamp of ``os.stat(path)`` or ``os.fstat(fd)``.

    Examples
    --------
    >>> import os, tempfile
    >>> with tempfile.NamedTemporaryFile() as handle:
    ...     before = file_stamp(os.fstat(handle.fileno()))
    ...     _ = handle.write(b"more"); handle.flush()
    ...     file_stamp(os.stat(handle.name)).size - before.size
    4
    """
    return FileStamp(status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)

"""The check every reader makes before it opens a path."""

from __future__ import annotations

from pathlib import Path

from histomammo.errors import DataFormatError, MissingFileError

__all__ = ["require_file"]


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

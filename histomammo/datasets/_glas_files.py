"""GlaS release files: ``Grade.csv``, the ``.bmp`` images and their instance annotations.

Public names are re-exported by [`histomammo.datasets.glas`][histomammo.datasets.glas].

``Grade.csv`` as released (Warwick-QU, 2016-07-08) has the header
``name,patient ID, grade (GlaS), grade (Sirinukunwattana et al. 2015)``, values with leading
spaces (but none before the patient ID in some rows), bare CR line endings and no final
newline; ``read_grade_csv`` reads it as it is, and any of those variations alike.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from histomammo.errors import DataFormatError
from histomammo.io._paths import require_file

__all__ = ["GRADE_COLUMNS", "read_grade_csv", "read_glas_image", "read_glas_annotation"]

#: The columns of ``Grade.csv`` (matched without regard to letter case or spaces).
GRADE_COLUMNS = ("name", "patient ID", "grade (GlaS)", "grade (Sirinukunwattana et al. 2015)")
_GREY_MODES = ("L", "P", "I", "I;16")
IMAGE_EXPECTED = "a 24-bit RGB BMP image"
ANNOTATION_EXPECTED = "a greyscale instance label BMP (one value per gland, 0 background)"

#: ``on_problem(file, row, message)``: how a reader reports one bad row and goes on.
OnProblem = Callable[[Path, int, str], None]


def _raise(file: Path, row: int, message: str) -> None:
    raise DataFormatError(f"{file}, row {row}: {message}")


def _header(path: Path, row: list[str]) -> dict[str, int]:
    """Column index of each of ``GRADE_COLUMNS``, found case-insensitively; raise if absent."""
    found = {cell.strip().lower(): i for i, cell in enumerate(row)}
    missing = [col for col in GRADE_COLUMNS if col.lower() not in found]
    if missing:
        raise DataFormatError(
            f"{path}: columns {missing} missing; found {[c.strip() for c in row]}, expected "
            f"{list(GRADE_COLUMNS)}"
        )
    return {col: found[col.lower()] for col in GRADE_COLUMNS}


def read_grade_csv(
    path: str | Path, *, on_problem: OnProblem | None = None
) -> dict[str, dict[str, Any]]:
    """Read ``Grade.csv``: ``{name: {"patient ID": ..., "grade (GlaS)": ..., ..., "row": n}}``.

    Headers and values are stripped of spaces; line endings may be LF, CRLF or bare CR (the
    release's), with or without a final newline. Values are kept as released, the spelling
    ``"moderately-to-poorly differentated"`` included. ``"row"`` is the 1-based line number
    (the header is row 1).

    Parameters
    ----------
    path : str or Path
        The table.
    on_problem : callable, optional
        ``on_problem(path, row, message)`` for a row that cannot be used (too few fields, a
        repeated name); the row is then skipped. By default such a row raises.

    Raises
    ------
    MissingFileError
        ``path`` does not exist.
    DataFormatError
        The file is not text or lacks a column of ``GRADE_COLUMNS`` (always); a bad row when
        ``on_problem`` is not given.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "Grade.csv"
    >>> _ = path.write_bytes(b"name,patient ID, grade (GlaS), grade (Sirinukunwattana et al. 2015)"
    ...                      b"\\rtestA_1,4, benign, adenomatous")
    >>> row = read_grade_csv(path)["testA_1"]
    >>> row["patient ID"], row["grade (GlaS)"], row["row"]
    ('4', 'benign', 2)
    """
    path = Path(path)
    require_file(path, "the GlaS Grade.csv")
    report = on_problem or _raise
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataFormatError(f"{path}: not UTF-8 text ({err}); expected a CSV file") from None
    lines = list(enumerate(csv.reader(text.splitlines()), start=1))
    rows = [(number, row) for number, row in lines if any(cell.strip() for cell in row)]
    if not rows:
        raise DataFormatError(f"{path}: empty; expected the header {', '.join(GRADE_COLUMNS)}")
    columns = _header(path, rows[0][1])
    width = max(columns.values()) + 1
    table: dict[str, dict[str, Any]] = {}
    for number, row in rows[1:]:
        if len(row) < width:
            report(path, number, f"{len(row)} fields, expected {width}; row skipped")
            continue
        record: dict[str, Any] = {col: row[i].strip() for col, i in columns.items()}
        if record["name"] in table:
            report(path, number, f"repeats the name {record['name']!r} of row "
                                 f"{table[record['name']]['row']}; row skipped")
            continue
        record["row"] = number
        table[record["name"]] = record
    return table


def open_bmp(path: Path, expected: str) -> Image.Image:
    """``PIL.Image.open(path)``, or MissingFileError / DataFormatError naming ``path``."""
    require_file(path, expected)
    try:
        return Image.open(path)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise DataFormatError(f"{path}: cannot be decoded ({err}); expected {expected}") from None


def _decode(image: Image.Image, path: Path, expected: str) -> np.ndarray:
    try:
        image.load()
        return np.array(image)
    except (OSError, SyntaxError, ValueError) as err:
        raise DataFormatError(f"{path}: truncated or corrupt ({err}); expected {expected}") from None


def read_glas_image(path: str | Path) -> np.ndarray:
    """Decode a GlaS ``.bmp`` image to an ``(H, W, 3)`` uint8 RGB array.

    Raises
    ------
    MissingFileError, DataFormatError
        No such file; not a decodable image, truncated, or not RGB.
    """
    path = Path(path)
    with open_bmp(path, IMAGE_EXPECTED) as image:
        if image.mode != "RGB":
            raise DataFormatError(f"{path}: image mode {image.mode!r}; expected {IMAGE_EXPECTED}")
        return _decode(image, path, IMAGE_EXPECTED)


def read_glas_annotation(path: str | Path) -> np.ndarray:
    """Decode a ``<name>_anno.bmp`` instance label image to an ``(H, W)`` int32 array.

    The grey values are the gland labels (0 background), kept as stored: never relabelled
    by connectivity. An RGB file whose three channels are equal is read as grey.

    Raises
    ------
    MissingFileError, DataFormatError
        No such file; undecodable or truncated; a colour (non-grey) annotation.
    """
    path = Path(path)
    with open_bmp(path, ANNOTATION_EXPECTED) as image:
        mode = image.mode
        check_annotation_mode(path, mode)
        labels = _decode(image, path, ANNOTATION_EXPECTED)
    if mode == "RGB":
        if not (np.array_equal(labels[..., 0], labels[..., 1])
                and np.array_equal(labels[..., 0], labels[..., 2])):
            raise DataFormatError(
                f"{path}: a colour annotation (its RGB channels differ); expected "
                f"{ANNOTATION_EXPECTED}"
            )
        labels = labels[..., 0]
    return labels.astype(np.int32)


def check_annotation_mode(path: Path, mode: str) -> None:
    """Refuse an annotation whose PIL mode cannot hold grey instance labels."""
    if mode not in _GREY_MODES + ("RGB",):
        raise DataFormatError(
            f"{path}: annotation mode {mode!r} (a colour or unsupported image); expected "
            f"{ANNOTATION_EXPECTED}"
        )


def bmp_header(path: Path, expected: str) -> tuple[tuple[int, int], str]:
    """``((height, width), mode)`` of a BMP from its header, without decoding pixels."""
    with open_bmp(path, expected) as image:
        return (image.height, image.width), image.mode

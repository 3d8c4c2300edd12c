"""DICOM header reads without pixel data (``stop_before_pixels``), gzip-aware, typed errors."""

from __future__ import annotations

import gzip
import io
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import SupportsInt

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from histomammo.errors import DataFormatError, MissingFileError

__all__ = ["INDEX_FIELDS", "header_fields", "header_fields_or_error", "read_header"]

_GZIP_MAGIC = b"\x1f\x8b"
# What pydicom and gzip raise on a truncated, corrupt or non-DICOM header.
_HEADER_ERRORS = (InvalidDicomError, EOFError, OSError, ValueError, struct.error, zlib.error)


def read_header(path: Path, tags: Sequence[str] | None = None) -> Dataset:
    """The data set of ``path`` up to (not including) Pixel Data; ``tags`` limits the parse.

    Gzipped files (``.dcm.gz``, detected by magic bytes) are decompressed only as far as
    the header needs.

    Raises
    ------
    MissingFileError
        ``path`` does not exist.
    DataFormatError
        Not a DICOM file, or truncated or corrupt before the pixel data.
    """
    path = Path(path)
    specific = list(tags) if tags is not None else None
    try:
        if not path.name.lower().endswith(".gz"):
            try:  # by name: pydicom reads a file it opens itself about twice as fast as a handle
                return pydicom.dcmread(path, stop_before_pixels=True, specific_tags=specific)
            except InvalidDicomError:
                pass  # perhaps gzipped under a plain name: check the magic bytes below
        with open(path, "rb") as raw:
            if raw.read(2) != _GZIP_MAGIC:
                return pydicom.dcmread(path, stop_before_pixels=True, specific_tags=specific)
            raw.seek(0)
            with gzip.GzipFile(fileobj=raw) as source:
                return pydicom.dcmread(io.BufferedReader(source), stop_before_pixels=True,
                                       specific_tags=specific)
    except FileNotFoundError as err:
        raise MissingFileError(f"{path}: file not found; expected a DICOM file") from err
    except _HEADER_ERRORS as err:
        raise DataFormatError(
            f"{path}: not a readable DICOM header ({type(err).__name__}: {err}); expected a "
            "DICOM Part 10 file, optionally gzipped"
        ) from err


# The header fields a mammography index keeps (thesis section 6.1.1), in table order.
INDEX_FIELDS = ("patient", "laterality", "view", "study_date", "rows", "columns",
                "photometric", "bits_stored", "manufacturer")
_TAGS = ("PatientID", "ImageLaterality", "Laterality", "ViewPosition", "StudyDate", "Rows",
         "Columns", "PhotometricInterpretation", "BitsStored", "Manufacturer")


def header_fields(path: Path) -> dict[str, object]:
    """`INDEX_FIELDS` of one file, read without its pixel data.

    Raises
    ------
    DataFormatError
        Not a readable DICOM header (see `read_header`).
    """
    header = read_header(path, _TAGS)
    date = str(header.get("StudyDate") or "")
    laterality = header.get("ImageLaterality") or header.get("Laterality")
    return {
        "patient": _text(header.get("PatientID")),
        "laterality": _text(laterality),
        "view": _text(header.get("ViewPosition")),
        "study_date": f"{date[:4]}-{date[4:6]}-{date[6:8]}" if len(date) == 8 and date.isdigit() else None,
        "rows": _integer(header.get("Rows")),
        "columns": _integer(header.get("Columns")),
        "photometric": _text(header.get("PhotometricInterpretation")),
        "bits_stored": _integer(header.get("BitsStored")),
        "manufacturer": _text(header.get("Manufacturer")),
    }


def _text(value: object) -> str | None:
    text = "" if value is None else str(value).strip()
    return text or None


def _integer(value: str | SupportsInt | None) -> int | None:
    return None if value is None or value == "" else int(value)


def header_fields_or_error(path: str) -> tuple[str, dict[str, object] | None, str | None]:
    """Worker-safe wrapper: ``(path, fields, None)`` or ``(path, None, message)``."""
    try:
        return path, header_fields(Path(path)), None
    except DataFormatError as err:
        return path, None, str(err)

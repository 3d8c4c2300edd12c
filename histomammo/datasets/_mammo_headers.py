"""DICOM header reads without pixel data (``stop_before_pixels``), gzip-aware, typed errors."""

from __future__ import annotations

import gzip
import io
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from histomammo.errors import DataFormatError, MissingFileError

__all__ = ["read_header"]

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
    try:
        with open(path, "rb") as raw:
            is_gzip = raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
            source = gzip.GzipFile(fileobj=raw) if is_gzip else raw
            try:
                return pydicom.dcmread(
                    io.BufferedReader(source) if is_gzip else source, stop_before_pixels=True,
                    specific_tags=list(tags) if tags is not None else None,
                )
            finally:
                if is_gzip:
                    source.close()
    except FileNotFoundError as err:
        raise MissingFileError(f"{path}: file not found; expected a DICOM file") from err
    except _HEADER_ERRORS as err:
        raise DataFormatError(
            f"{path}: not a readable DICOM header ({type(err).__name__}: {err}); expected a "
            "DICOM Part 10 file, optionally gzipped"
        ) from err

"""Reading a DICOM file for [`histomammo.io.dicom`][histomammo.io.dicom]: gunzip within a size
limit, parse up to
the Pixel Data, validate the Image Pixel module against the bytes present, translate pydicom's
failures into [`DataFormatError`][histomammo.errors.DataFormatError].

Private: the public reader is [`histomammo.io.dicom.read_dicom`][histomammo.io.read_dicom].
"""

from __future__ import annotations

import gzip
import io
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Literal

import numpy as np
from pydicom.dataset import Dataset
from pydicom.encaps import parse_basic_offsets, parse_fragments
from pydicom.errors import BytesLengthException, InvalidDicomError
from pydicom.filereader import read_partial
from pydicom.tag import BaseTag
from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from histomammo.errors import DataFormatError, HistomammoError
from histomammo.io._paths import require_file

__all__ = [
    "DEFAULT_MAX_DECOMPRESSED_BYTES",
    "THIRD_PARTY_ERRORS",
    "PixelHeader",
    "Translated",
    "check_pixel_data",
    "element",
    "pixel_header",
    "read_dataset",
]

# 1 GiB: twenty times the largest 2-D mammograms (about 4096 x 5625 x 2 bytes = 46 MB) and
# room for a tomosynthesis stack of a hundred 2457 x 1890 16-bit slices.
DEFAULT_MAX_DECOMPRESSED_BYTES = 1 << 30

_GZIP_MAGIC = b"\x1f\x8b"
_GUNZIP_STEP = 1 << 20
_PIXEL_DATA = 0x7FE00010
_UNDEFINED_LENGTH = 0xFFFFFFFF
# What pydicom, gzip and zlib raise on a corrupt, truncated or non-DICOM file. Caught only
# around calls into those libraries (``with Translated(...)``), never around our own code.
THIRD_PARTY_ERRORS = (
    InvalidDicomError, BytesLengthException, ValueError, EOFError, struct.error, zlib.error,
    OSError, KeyError, IndexError, AttributeError, TypeError, NotImplementedError,
    OverflowError, RuntimeError, StopIteration, LookupError,
)


class Translated:
    """``with Translated(path, what):`` re-raises a third-party failure as DataFormatError.

    A class rather than ``contextlib.contextmanager``, so that a ``StopIteration`` escaping
    pydicom's frame generators is translated too instead of turning into ``RuntimeError``.
    """

    def __init__(self, path: Path, what: str) -> None:
        self.path, self.what = path, what

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> Literal[False]:
        if err is None or isinstance(err, HistomammoError):
            return False
        if isinstance(err, THIRD_PARTY_ERRORS):
            raise DataFormatError(f"{self.path}: {self.what}: {type(err).__name__}: {err}") from err
        return False


def _gunzip(handle: BinaryIO, path: Path, limit: int) -> io.BytesIO:
    """Decompress in 1 MiB steps, stopping as soon as ``limit`` is passed (``read(limit)``
    itself would reserve ``limit`` bytes for every file)."""
    out = io.BytesIO()
    with Translated(path, "not a readable gzip stream"):
        stream = gzip.GzipFile(fileobj=handle, mode="rb")
        while out.tell() <= limit:
            chunk = stream.read(_GUNZIP_STEP)
            if not chunk:
                break
            out.write(chunk)
    if out.tell() > limit:
        raise DataFormatError(
            f"{path}: the gzip stream expands to more than {limit} bytes (max_decompressed_bytes);"
            " expected a gzip-compressed DICOM file within the limit (a decompression bomb?)"
        )
    out.seek(0)
    return out


def _stop_after_pixel_data() -> Any:
    """A ``stop_when`` for pydicom's parser: stop at the element after Pixel Data.

    Whatever follows the Pixel Data (trailing padding, junk, a run of zeros that pydicom
    would otherwise parse as millions of empty elements) is not read, so parse time is
    proportional to the image, not to the tail.
    """
    passed = [False]

    def stop_when(tag: BaseTag, vr: str | None, length: int) -> bool:
        if passed[0]:
            return True
        passed[0] = tag == _PIXEL_DATA
        return False

    return stop_when


def read_dataset(path: Path, max_decompressed_bytes: int) -> Dataset:
    """Parse ``path`` (optionally gzip-compressed) up to and including its Pixel Data."""
    require_file(path, "a DICOM file")
    with open(path, "rb") as handle:
        is_gzip = handle.read(2) == _GZIP_MAGIC
        handle.seek(0)
        # In memory, so that a corrupt element length (4 GiB, say) reads what the file holds
        # instead of making the file object allocate the declared length first.
        source: BinaryIO = (_gunzip(handle, path, max_decompressed_bytes) if is_gzip
                            else io.BytesIO(handle.read()))
        with Translated(path, "not a DICOM file"):
            try:
                dataset = read_partial(source, _stop_after_pixel_data())
                no_marker = None
            except InvalidDicomError as err:
                no_marker = err
                # No 'DICM' marker: accept a bare data set (ACR-NEMA style) if it holds an image.
                source.seek(0)
                dataset = read_partial(source, _stop_after_pixel_data(), force=True)
    if no_marker is not None and _PIXEL_DATA not in dataset:
        raise DataFormatError(
            f"{path}: not a DICOM file: no 'DICM' marker at byte 128 and no data set with "
            "Pixel Data could be parsed; expected a DICOM Part 10 file"
        ) from no_marker
    return dataset


def element(dataset: Dataset, keyword: str, path: Path) -> Any:
    """``dataset.get(keyword)``, pydicom's value conversion failures as DataFormatError."""
    with Translated(path, f"unreadable {keyword}"):
        return dataset.get(keyword)


def _integer(dataset: Dataset, keyword: str, path: Path, allowed: range, default: int | None
             ) -> int:
    value = element(dataset, keyword, path)
    if value is None and default is not None:
        return default
    # int(): range's O(1) membership test is for exact ints; pydicom's IS is a subclass.
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and int(value) in allowed:
        return int(value)
    raise DataFormatError(
        f"{path}: {keyword} is {value!r}; expected an integer in "
        f"{allowed.start}..{allowed.stop - 1}"
    )


@dataclass(frozen=True)
class PixelHeader:
    """The Image Pixel module (PS3.3 C.7.6.3) values that size and type the pixel array."""

    rows: int
    columns: int
    frames: int
    samples: int
    bits_allocated: int
    bits_stored: int
    signed: bool
    syntax: UID

    @property
    def shape(self) -> tuple[int, ...]:
        """The array the header declares: ``(frames, rows, columns, samples)``, size-1
        frames and samples axes dropped, as pydicom returns it."""
        return ((self.frames,) if self.frames > 1 else ()) + (self.rows, self.columns) + (
            (self.samples,) if self.samples > 1 else ())

    @property
    def pixel_count(self) -> int:
        return self.frames * self.rows * self.columns * self.samples

    @property
    def decoded_bytes(self) -> int:
        """Bytes of the decoded array (pydicom unpacks 1-bit data to one byte per pixel)."""
        return self.pixel_count * max(self.bits_allocated // 8, 1)

    @property
    def native_bytes(self) -> int:
        """Bytes of the Pixel Data value in a native (uncompressed) transfer syntax."""
        return (self.pixel_count * self.bits_allocated + 7) // 8


def _transfer_syntax(dataset: Dataset, path: Path) -> UID:
    """The file's transfer syntax, inferred from the encoding when there is no file meta."""
    with Translated(path, "unreadable Transfer Syntax UID"):
        syntax = dataset.file_meta.get("TransferSyntaxUID")
        if syntax is None:
            implicit_vr, little_endian = dataset.original_encoding
            if implicit_vr:
                syntax = ImplicitVRLittleEndian
            else:
                syntax = ExplicitVRLittleEndian if little_endian else ExplicitVRBigEndian
            dataset.file_meta.TransferSyntaxUID = syntax
        syntax = UID(syntax)
    if not syntax.is_transfer_syntax:
        raise DataFormatError(f"{path}: Transfer Syntax UID {str(syntax)!r} is not one DICOM defines")
    return syntax


def pixel_header(dataset: Dataset, path: Path) -> PixelHeader:
    """Read and validate the values that size the pixel array; nothing is trusted."""
    if _PIXEL_DATA not in dataset:
        raise DataFormatError(
            f"{path}: no Pixel Data element (7FE0,0010): the file holds no image or is "
            "truncated before it; expected an image"
        )
    bits_allocated = _integer(dataset, "BitsAllocated", path, range(1, 65), None)
    if bits_allocated not in (1, 8, 16, 32, 64):
        raise DataFormatError(f"{path}: BitsAllocated is {bits_allocated}; expected 1, 8, 16, "
                              "32 or 64")
    samples = _integer(dataset, "SamplesPerPixel", path, range(1, 5), 1)
    if samples > 1:
        _integer(dataset, "PlanarConfiguration", path, range(2), None)
    header = PixelHeader(
        rows=_integer(dataset, "Rows", path, range(1, 1 << 16), None),
        columns=_integer(dataset, "Columns", path, range(1, 1 << 16), None),
        frames=_integer(dataset, "NumberOfFrames", path, range(1, 1 << 31), 1),
        samples=samples,
        bits_allocated=bits_allocated,
        bits_stored=_integer(dataset, "BitsStored", path, range(1, bits_allocated + 1), None),
        signed=bool(_integer(dataset, "PixelRepresentation", path, range(2), None)),
        syntax=_transfer_syntax(dataset, path),
    )
    return header


def check_pixel_data(dataset: Dataset, header: PixelHeader, path: Path, limit: int) -> None:
    """Refuse Pixel Data whose length disagrees with the header, before anything is decoded."""
    with Translated(path, "unreadable Pixel Data"):
        raw = dataset.get_item(_PIXEL_DATA)
        value = raw.value or b""
    # Only a not-yet-converted (raw) element remembers the length its header declared.
    declared = getattr(raw, "length", _UNDEFINED_LENGTH)
    if not isinstance(value, (bytes, bytearray)):
        raise DataFormatError(f"{path}: Pixel Data is a {type(value).__name__}; expected bytes")
    if declared != _UNDEFINED_LENGTH and len(value) < declared:
        raise DataFormatError(
            f"{path}: truncated: Pixel Data declares {declared} bytes but the file holds "
            f"only {len(value)}"
        )
    if not header.syntax.is_encapsulated:
        expected = header.native_bytes
        if len(value) not in (expected, expected + 1):  # + 1: the padding to an even length
            raise DataFormatError(
                f"{path}: Pixel Data holds {len(value)} bytes; expected {expected} for "
                f"{header.frames} frame(s) of {header.rows} x {header.columns} pixels x "
                f"{header.samples} sample(s) x {header.bits_allocated} bits"
            )
        return
    if header.decoded_bytes > limit:
        raise DataFormatError(
            f"{path}: the header declares {header.decoded_bytes} bytes of decoded pixels "
            f"({header.shape}); more than max_decompressed_bytes={limit}"
        )
    with Translated(path, "corrupt encapsulated Pixel Data"):
        buffer = io.BytesIO(value)
        endianness = "<" if header.syntax.is_little_endian else ">"
        parse_basic_offsets(buffer, endianness=endianness)
        fragments, _ = parse_fragments(buffer, endianness=endianness)
    if fragments < header.frames:
        raise DataFormatError(
            f"{path}: NumberOfFrames is {header.frames} but the encapsulated Pixel Data holds "
            f"{fragments} fragment(s); expected at least one fragment per frame"
        )

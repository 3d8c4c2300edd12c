"""Read DICOM radiographs (mammograms) into numpy arrays with typed metadata.

Unless ``raw=True``, [`read_dicom`][histomammo.io.read_dicom] runs the DICOM grayscale pipeline
(PS3.3 C.11) with
pydicom's own functions: stored values → Modality LUT → VOI LUT or window → MONOCHROME1
inversion (dense tissue bright) → float32 in [0, 1], divided by the *known* output range of
the last step, never by the image's own extremes. Classic multi-frame files give
``(frames, H, W)``; enhanced multi-frame files (tomosynthesis) need ``raw=True``.

Nothing in the header is trusted: the Image Pixel module is validated and the Pixel Data's
length checked against it before anything is decoded or allocated, rescale and window values
must be finite, and the returned array always has the shape the header declares.
"""

from __future__ import annotations

import datetime
import logging
import operator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate, generate_frames
from pydicom.pixels import get_decoder
from pydicom.uid import UID, JPEGBaseline8Bit, JPEGExtended12Bit

from histomammo.errors import DataFormatError, MissingDependencyError
from histomammo.io._dicom_display import VoiSpec, display_values
from histomammo.io._dicom_file import (
    DEFAULT_MAX_DECOMPRESSED_BYTES,
    THIRD_PARTY_ERRORS,
    PixelHeader,
    Translated,
    check_pixel_data,
    element,
    pixel_header,
    read_dataset,
)
from histomammo.io._dicom_jpeg import DICOM_EXTRA_HINT, EXTRA_SYNTAXES, repair_sequential_scans

__all__ = ["DEFAULT_MAX_DECOMPRESSED_BYTES", "DicomImage", "read_dicom"]

logger = logging.getLogger("histomammo")



@dataclass(frozen=True, eq=False)
class DicomImage:
    """Pixels of one DICOM image and the metadata a mammography pipeline needs.

    Attributes
    ----------
    pixels : numpy.ndarray
        ``(H, W)`` image, or ``(frames, H, W)`` for a multi-frame file. float32 in [0, 1]
        with dense tissue bright, or the stored values in the file's own dtype (native byte
        order) when read with ``raw=True``. Row 0 is the top of the image as stored.
    patient_id : str or None
        Patient ID (0010,0020).
    study_date : datetime.date or None
        Study Date (0008,0020); None when absent or not a valid ``YYYYMMDD`` date.
    laterality : str or None
        Image Laterality (0020,0062), else Laterality (0020,0060): ``"L"``, ``"R"``, ``"B"``
        or ``"U"``.
    view : str or None
        View Position (0018,5101), e.g. ``"CC"`` or ``"MLO"``.
    photometric : str
        Photometric Interpretation (0028,0004) as stored, e.g. ``"MONOCHROME1"``.
    bits_stored : int
        Bits Stored (0028,0101).
    pixel_spacing : tuple of float or None
        ``(row spacing, column spacing)`` in mm: Pixel Spacing (0028,0030), else Imager
        Pixel Spacing (0018,1164).
    manufacturer : str or None
        Manufacturer (0008,0070).
    presentation_intent : str or None
        Presentation Intent Type (0008,0068): ``"FOR PRESENTATION"`` or ``"FOR PROCESSING"``.
    burned_in_annotation : bool or None
        Burned In Annotation (0028,0301); None when absent or neither YES nor NO.
    path : pathlib.Path
        The file read.
    """

    pixels: np.ndarray
    patient_id: str | None
    study_date: datetime.date | None
    laterality: str | None
    view: str | None
    photometric: str
    bits_stored: int
    pixel_spacing: tuple[float, float] | None
    manufacturer: str | None
    presentation_intent: str | None
    burned_in_annotation: bool | None
    path: Path


def read_dicom(
    path: str | Path,
    *,
    voi: VoiSpec = "auto",
    invert: bool = True,
    raw: bool = False,
    max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES,
) -> DicomImage:
    """Read a DICOM image, optionally gzip-compressed, as display values in [0, 1].

    Parameters
    ----------
    path : str or pathlib.Path
        DICOM Part 10 file (a file without the 128-byte preamble is also accepted). Gzip
        compression is detected by the magic bytes, whatever the suffix.
    voi : "auto", "none" or (float, float)
        ``"auto"`` applies the file's first VOI LUT Sequence item, else its first window;
        ``(center, width)`` replaces the file's window (and ignores its VOI LUT Sequence)
        while keeping its VOI LUT Function; ``"none"`` applies no VOI transform.
    invert : bool
        Invert MONOCHROME1 images so that dense tissue is bright. Ignored for MONOCHROME2.
    raw : bool
        Return the stored values untouched (no LUT, no inversion, no scaling).
    max_decompressed_bytes : int, default 1 GiB (``DEFAULT_MAX_DECOMPRESSED_BYTES``)
        The most bytes a gzip-compressed file may expand to, and the most bytes of decoded
        pixels a compressed transfer syntax may declare; beyond it the file is refused
        before the memory is spent (a decompression bomb). The default is twenty times the
        largest 2-D mammograms (4096 x 5625 16-bit pixels, 46 MB).

    Returns
    -------
    DicomImage
        ``pixels`` is float32 ``(H, W)`` in [0, 1] (``(frames, H, W)`` for multi-frame
        files); with ``raw=True`` the stored integer array in the file's dtype. Its shape
        is always the one the header declares.

    Raises
    ------
    MissingFileError
        ``path`` does not exist (a ``FileNotFoundError`` and a ``DataFormatError``).
    DataFormatError
        ``path`` is not a regular file; not a DICOM file, truncated or corrupt; no Pixel
        Data, or Pixel Data whose length disagrees with Rows, Columns, Number of Frames,
        Samples per Pixel and Bits Allocated; an invalid Image Pixel module value;
        non-finite rescale or window values; a gzip stream or declared decoded size beyond
        ``max_decompressed_bytes``; a colour image or an enhanced multi-frame image with
        ``raw=False``, or a VOI LUT Function pydicom does not know.
    MissingDependencyError
        The transfer syntax needs a decoder plugin that is not installed; the message names
        the transfer syntax and the packages that decode it (for JPEG, 12-bit lossy JPEG
        included, the ``dicom`` extra: ``pip install 'histomammo[dicom]'``).
    ValueError
        ``voi`` is not ``"auto"``, ``"none"`` or a (center, width) pair with width > 0, or
        ``max_decompressed_bytes`` is not a positive integer.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from histomammo.datasets.synthetic import write_dicom
    >>> stored = np.array([[0, 1000], [2000, 4095]], dtype=np.uint16)
    >>> path = write_dicom(pathlib.Path(tempfile.mkdtemp()) / "scan.dcm", stored,
    ...                    photometric="MONOCHROME1", window=None)
    >>> image = read_dicom(path)
    >>> image.pixels.dtype, image.laterality, image.view
    (dtype('float32'), 'L', 'CC')
    >>> image.pixels.round(3)  # inverted: stored 0 is the brightest value
    array([[1.   , 0.756],
           [0.512, 0.   ]], dtype=float32)
    >>> read_dicom(path, raw=True).pixels
    array([[   0, 1000],
           [2000, 4095]], dtype=uint16)
    """
    path = Path(path)
    voi = _checked_voi(voi)
    limit = operator.index(max_decompressed_bytes)
    if limit < 1:
        raise ValueError(f"max_decompressed_bytes must be positive, got {limit}")
    dataset = read_dataset(path, limit)
    header = pixel_header(dataset, path)
    stored = _decode_stored(dataset, header, path, limit)
    pixels = stored if raw else display_values(stored, dataset, header, path, voi, invert)
    return _image_with_metadata(pixels, dataset, header, path)


def _checked_voi(voi: VoiSpec) -> VoiSpec:
    if isinstance(voi, str):
        if voi not in ("auto", "none"):
            raise ValueError(f"voi must be 'auto', 'none' or (center, width), got {voi!r}")
        return voi
    try:
        center, width = (float(value) for value in voi)
    except (TypeError, ValueError):
        raise ValueError(f"voi must be 'auto', 'none' or (center, width), got {voi!r}") from None
    if not (np.isfinite(center) and np.isfinite(width) and width > 0):
        raise ValueError(f"voi=(center, width) needs finite values and width > 0, got {voi!r}")
    return center, width


def _decode_stored(dataset: Dataset, header: PixelHeader, path: Path, limit: int) -> np.ndarray:
    check_pixel_data(dataset, header, path, limit)
    syntax = header.syntax
    missing = _missing_decoder(syntax, path) if syntax.is_compressed else None
    if missing is not None:
        raise missing
    with Translated(path, "cannot decode the pixel data"):
        try:
            stored = dataset.pixel_array
        except RuntimeError as err:
            if not _repaired_sequential_jpeg(dataset, header):
                missing = _missing_decoder(syntax, path, err) if syntax.is_compressed else None
                if missing is not None:
                    raise missing from err
                raise
            stored = dataset.pixel_array
    if stored.shape != header.shape:
        raise DataFormatError(
            f"{path}: the pixel data decodes to shape {stored.shape}; expected {header.shape} "
            "from Number of Frames, Rows, Columns and Samples per Pixel"
        )
    # Big-endian files decode to '>u2'; callers get native byte order, same values.
    return stored.astype(stored.dtype.newbyteorder("="), copy=False)


def _repaired_sequential_jpeg(dataset: Dataset, header: PixelHeader) -> bool:
    """Rewrite a JPEG Baseline/Extended file's non-standard scan headers in place; changed?"""
    if header.syntax not in (JPEGBaseline8Bit, JPEGExtended12Bit):
        return False
    frames = list(generate_frames(dataset.PixelData, number_of_frames=header.frames))
    repaired = [repair_sequential_scans(frame) for frame in frames]
    if repaired == frames:
        return False
    dataset.PixelData = encapsulate(repaired)
    return True


def _missing_decoder(
    syntax: UID, path: Path, failure: RuntimeError | None = None
) -> MissingDependencyError | None:
    """The error to raise when no decoder, or none of the installed ones, can read ``syntax``."""
    with Translated(path, f"no pixel data decoder for {syntax}"):
        decoder = get_decoder(syntax)
    if failure is None and not decoder.is_available:
        problem = "no decoder for it is installed"
    elif failure is not None and decoder.missing_dependencies:
        problem = (f"the installed plugins could not decode it ({failure}); if the file is "
                   "intact, another decoder may read it")
    else:
        return None
    return MissingDependencyError(
        f"{path}: pixel data is compressed with {syntax.name} ({syntax}) and {problem}; "
        f"{_install_hint(syntax, decoder.missing_dependencies)}"
    )


def _install_hint(syntax: UID, missing: list[str]) -> str:
    # pydicom names plugins by import name; the gdcm module is the pip package python-gdcm.
    gdcm = any(item.startswith("gdcm ") for item in missing)
    others = "one of: " + "; ".join(missing) + (" (pip install python-gdcm)" if gdcm else "")
    if syntax in EXTRA_SYNTAXES:
        return f"install the dicom extra: {DICOM_EXTRA_HINT}, or " + others
    return "install " + others


def _image_with_metadata(
    pixels: np.ndarray, dataset: Dataset, header: PixelHeader, path: Path
) -> DicomImage:
    photometric = str(element(dataset, "PhotometricInterpretation", path) or "")
    burned_in = _text(dataset, "BurnedInAnnotation", path)
    return DicomImage(
        pixels=pixels,
        patient_id=_text(dataset, "PatientID", path),
        study_date=_date(dataset, "StudyDate", path),
        laterality=_text(dataset, "ImageLaterality", path) or _text(dataset, "Laterality", path),
        view=_text(dataset, "ViewPosition", path),
        photometric=photometric,
        bits_stored=header.bits_stored,
        pixel_spacing=_spacing(dataset, "PixelSpacing", path)
        or _spacing(dataset, "ImagerPixelSpacing", path),
        manufacturer=_text(dataset, "Manufacturer", path),
        presentation_intent=_text(dataset, "PresentationIntentType", path),
        burned_in_annotation={"YES": True, "NO": False}.get((burned_in or "").upper()),
        path=path,
    )


# Descriptive metadata never makes a readable image unreadable: a malformed value is
# logged and reported as None.


def _text(dataset: Dataset, keyword: str, path: Path) -> str | None:
    try:
        value = dataset.get(keyword)
    except THIRD_PARTY_ERRORS as err:
        logger.warning("%s: unreadable %s (%s); reported as None", path, keyword, err)
        return None
    text = str(value).strip() if value is not None else ""
    return text or None


def _date(dataset: Dataset, keyword: str, path: Path) -> datetime.date | None:
    text = _text(dataset, keyword, path)
    if text is None:
        return None
    try:
        return datetime.datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        logger.warning("%s: %s %r is not a YYYYMMDD date; reported as None", path, keyword, text)
        return None


def _spacing(dataset: Dataset, keyword: str, path: Path) -> tuple[float, float] | None:
    try:
        value = dataset.get(keyword)
        if value is None:
            return None
        row, column = (float(v) for v in value)
    except THIRD_PARTY_ERRORS as err:
        logger.warning("%s: %s is not two numbers (%s); reported as None", path, keyword, err)
        return None
    if not (row > 0 and column > 0 and np.isfinite(row) and np.isfinite(column)):
        logger.warning("%s: %s %r is not positive; reported as None", path, keyword, value)
        return None
    return row, column

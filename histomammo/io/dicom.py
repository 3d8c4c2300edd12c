"""Read DICOM radiographs (mammograms) into numpy arrays with typed metadata.

Unless ``raw=True``, :func:`read_dicom` runs the DICOM grayscale pipeline (PS3.3 C.11) with
pydicom's own functions: stored values → Modality LUT → VOI LUT or window → MONOCHROME1
inversion (dense tissue bright) → float32 in [0, 1], divided by the *known* output range of
the last step, never by the image's own extremes. Classic multi-frame files give
``(frames, H, W)``; enhanced multi-frame files (tomosynthesis) need ``raw=True``.
"""

from __future__ import annotations

import contextlib
import datetime
import gzip
import io
import logging
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import BytesLengthException, InvalidDicomError
from pydicom.pixels import apply_modality_lut, apply_voi, apply_windowing, get_decoder
from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from histomammo.errors import DataFormatError, HistomammoError, MissingDependencyError
from histomammo.io._paths import require_file

__all__ = ["DicomImage", "read_dicom"]

logger = logging.getLogger("histomammo")

VoiSpec = Literal["auto", "none"] | tuple[float, float]

_GZIP_MAGIC = b"\x1f\x8b"
_UNDEFINED_LENGTH = 0xFFFFFFFF  # encapsulated (compressed) Pixel Data
_MONOCHROME = ("MONOCHROME1", "MONOCHROME2")
_FUNCTIONAL_GROUPS = ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence")
# Everything pydicom, gzip and numpy raise on a corrupt, truncated or non-DICOM file.
_READ_ERRORS = (
    InvalidDicomError, BytesLengthException, ValueError, EOFError, struct.error, zlib.error,
    OSError, KeyError, IndexError, AttributeError, TypeError, NotImplementedError,
    OverflowError, RuntimeError,
)


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

    Returns
    -------
    DicomImage
        ``pixels`` is float32 ``(H, W)`` in [0, 1] (``(frames, H, W)`` for multi-frame
        files); with ``raw=True`` the stored integer array in the file's dtype.

    Raises
    ------
    MissingFileError
        ``path`` does not exist (a ``FileNotFoundError`` and a ``DataFormatError``).
    DataFormatError
        ``path`` is not a regular file; not a DICOM file, truncated or corrupt, no Pixel Data, a colour image or an enhanced
        multi-frame image with ``raw=False``, or a VOI LUT Function pydicom does not know.
    MissingDependencyError
        The transfer syntax needs a decoder plugin that is not installed; the message names
        the transfer syntax and the packages that decode it.
    ValueError
        ``voi`` is not ``"auto"``, ``"none"`` or a (center, width) pair with width > 0.

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
    dataset = _read_dataset(path)
    stored = _decode_stored(dataset, path)
    pixels = stored if raw else _display_values(stored, dataset, path, voi, invert)
    return _image_with_metadata(pixels, dataset, path)


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


@contextlib.contextmanager
def _as_format_error(path: Path, what: str) -> Iterator[None]:
    """Re-raise any third-party failure while reading ``path`` as DataFormatError."""
    try:
        yield
    except HistomammoError:
        raise
    except _READ_ERRORS as err:
        raise DataFormatError(f"{path}: {what}: {type(err).__name__}: {err}") from err


def _read_dataset(path: Path) -> Dataset:
    require_file(path, "a DICOM file")
    with open(path, "rb") as handle:
        is_gzip = handle.read(2) == _GZIP_MAGIC
        handle.seek(0)
        with _as_format_error(path, "not a readable gzip stream"):
            source: BinaryIO = io.BytesIO(gzip.decompress(handle.read())) if is_gzip else handle
        with _as_format_error(path, "not a DICOM file"):
            try:
                return pydicom.dcmread(source)
            except InvalidDicomError as err:
                no_marker = err
            # No 'DICM' marker: accept a bare data set (ACR-NEMA style) if it holds an image.
            source.seek(0)
            dataset = pydicom.dcmread(source, force=True)
    if "PixelData" not in dataset:
        raise DataFormatError(
            f"{path}: not a DICOM file: no 'DICM' marker at byte 128 and no data set with "
            "Pixel Data could be parsed; expected a DICOM Part 10 file"
        ) from no_marker
    return dataset


def _decode_stored(dataset: Dataset, path: Path) -> np.ndarray:
    if "PixelData" not in dataset:
        raise DataFormatError(
            f"{path}: no Pixel Data element (7FE0,0010): the file holds no image or is "
            "truncated before it; expected an image"
        )
    _check_pixel_data_complete(dataset, path)
    with _as_format_error(path, "cannot decode the pixel data"):
        syntax = _transfer_syntax(dataset)
        missing = _missing_decoder(syntax, path) if syntax.is_compressed else None
        if missing is not None:
            raise missing
        try:
            stored = dataset.pixel_array
        except RuntimeError as err:
            missing = _missing_decoder(syntax, path, err) if syntax.is_compressed else None
            if missing is not None:
                raise missing from err
            raise
    # Big-endian files decode to '>u2'; callers get native byte order, same values.
    return stored.astype(stored.dtype.newbyteorder("="), copy=False)


def _check_pixel_data_complete(dataset: Dataset, path: Path) -> None:
    """A Pixel Data length beyond the end of the file means truncation (or a corrupt length)."""
    element = dataset.get_item("PixelData")
    # Only a not-yet-converted (raw) element remembers the length its header declared.
    declared = getattr(element, "length", _UNDEFINED_LENGTH)
    found = len(element.value or b"")
    if declared != _UNDEFINED_LENGTH and found < declared:
        raise DataFormatError(
            f"{path}: truncated: Pixel Data declares {declared} bytes but the file holds "
            f"only {found}"
        )


def _transfer_syntax(dataset: Dataset) -> UID:
    """The file's transfer syntax, inferred from the encoding when there is no file meta."""
    syntax = dataset.file_meta.get("TransferSyntaxUID")
    if syntax is None:
        implicit_vr, little_endian = dataset.original_encoding
        if implicit_vr:
            syntax = ImplicitVRLittleEndian
        else:
            syntax = ExplicitVRLittleEndian if little_endian else ExplicitVRBigEndian
        dataset.file_meta.TransferSyntaxUID = syntax
    return UID(syntax)


def _missing_decoder(
    syntax: UID, path: Path, failure: RuntimeError | None = None
) -> MissingDependencyError | None:
    """The error to raise when no decoder, or none of the installed ones, can read ``syntax``."""
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
        f"{_install_hint(decoder.missing_dependencies)}"
    )


def _install_hint(missing: list[str]) -> str:
    # pydicom names plugins by import name; the gdcm module is the pip package python-gdcm.
    gdcm = any(item.startswith("gdcm ") for item in missing)
    return "install one of: " + "; ".join(missing) + (" (pip install python-gdcm)" if gdcm else "")


def _display_values(
    stored: np.ndarray, dataset: Dataset, path: Path, voi: VoiSpec, invert: bool
) -> np.ndarray:
    _check_grayscale_pipeline_applies(dataset, path, voi)
    with _as_format_error(path, "cannot apply the Modality LUT / VOI LUT"):
        unit = _voi_in_unit_range(apply_modality_lut(stored, dataset), dataset, path, voi)
    outside = np.count_nonzero((unit < 0) | (unit > 1))
    if outside:
        logger.warning(
            "%s: %d pixel values lie outside the range declared by Bits Stored / LUT "
            "descriptors; clipped to [0, 1]", path, outside
        )
        np.clip(unit, 0.0, 1.0, out=unit)
    if invert and dataset.PhotometricInterpretation == "MONOCHROME1":
        unit = 1.0 - unit
    return unit.astype(np.float32)


def _check_grayscale_pipeline_applies(dataset: Dataset, path: Path, voi: VoiSpec) -> None:
    photometric = dataset.get("PhotometricInterpretation")
    if photometric not in _MONOCHROME:
        raise DataFormatError(
            f"{path}: Photometric Interpretation is {photometric!r}; expected MONOCHROME1 or "
            "MONOCHROME2 (read colour images with raw=True)"
        )
    if any(keyword in dataset for keyword in _FUNCTIONAL_GROUPS):
        raise DataFormatError(
            f"{path}: enhanced multi-frame image: its rescale and window values are per-frame "
            "functional groups, which read_dicom does not apply; expected a single-frame or "
            "classic multi-frame image (read it with raw=True)"
        )
    function = str(dataset.get("VOILUTFunction") or "LINEAR").upper()
    if isinstance(voi, tuple) and function == "LINEAR" and voi[1] < 1:
        raise ValueError(f"voi width must be >= 1 for the LINEAR VOI LUT Function, got {voi!r}")


def _voi_in_unit_range(
    values: np.ndarray, dataset: Dataset, path: Path, voi: VoiSpec
) -> np.ndarray:
    """Apply the VOI step and divide by its known output range: float64, nominally [0, 1]."""
    if isinstance(voi, tuple):
        dataset.WindowCenter, dataset.WindowWidth = voi
        if "VOILUTSequence" in dataset:
            del dataset.VOILUTSequence
    if voi != "none" and _has_voi_lut(dataset):
        # LUT entries are indexed by integers; rescaled values are rounded, not truncated.
        output = apply_voi(np.rint(values).astype(np.int64), dataset, index=0)
        bits = int(dataset.VOILUTSequence[0].LUTDescriptor[2])
        return output / float(2**bits - 1)
    if voi != "none" and _has_window(dataset, path):
        low, high = _modality_output_range(dataset, path)
        with np.errstate(over="ignore"):  # SIGMOID's exp() overflows to inf, giving y_min
            output = apply_windowing(values, dataset, index=0)
        return (output - low) / (high - low)
    low, high = sorted(_modality_output_range(dataset, path))
    return (values - low) / (high - low)


def _has_voi_lut(dataset: Dataset) -> bool:
    items = dataset.get("VOILUTSequence")
    return bool(items) and None not in (items[0].get("LUTDescriptor"), items[0].get("LUTData"))


def _has_window(dataset: Dataset, path: Path) -> bool:
    present = None not in (dataset.get("WindowCenter"), dataset.get("WindowWidth"))
    if not present and ("WindowCenter" in dataset or "WindowWidth" in dataset):
        logger.warning("%s: Window Center or Width is missing or empty; no window applied", path)
    return present


def _modality_output_range(dataset: Dataset, path: Path) -> tuple[float, float]:
    """``(y_min, y_max)``: the stored range through the Modality LUT.

    The stored range comes from Bits Stored and Pixel Representation; a Modality LUT
    Sequence outputs ``[0, 2**bits - 1]`` (PS3.3 C.11.1.1.1). This is also the output range
    :func:`pydicom.pixels.apply_windowing` maps a window onto, in the same order, so
    ``(windowed - y_min) / (y_max - y_min)`` is exactly 0 below the window and 1 above it.
    """
    if dataset.get("ModalityLUTSequence"):
        bits = int(dataset.ModalityLUTSequence[0].LUTDescriptor[2])
        return 0.0, float(2**bits - 1)
    bits = int(dataset.BitsStored)
    if dataset.PixelRepresentation == 0:
        low, high = 0.0, float(2**bits - 1)
    else:
        low, high = float(-(2 ** (bits - 1))), float(2 ** (bits - 1) - 1)
    slope, intercept = dataset.get("RescaleSlope"), dataset.get("RescaleIntercept")
    if slope is not None and intercept is not None:
        low, high = low * float(slope) + float(intercept), high * float(slope) + float(intercept)
    if low == high:
        raise DataFormatError(f"{path}: the Modality LUT maps every stored value to {low}")
    return low, high


def _image_with_metadata(pixels: np.ndarray, dataset: Dataset, path: Path) -> DicomImage:
    with _as_format_error(path, "invalid image pixel module"):
        photometric = str(dataset.get("PhotometricInterpretation", ""))
        bits_stored = int(dataset.BitsStored)
    burned_in = _text(dataset, "BurnedInAnnotation", path)
    return DicomImage(
        pixels=pixels,
        patient_id=_text(dataset, "PatientID", path),
        study_date=_date(dataset, "StudyDate", path),
        laterality=_text(dataset, "ImageLaterality", path) or _text(dataset, "Laterality", path),
        view=_text(dataset, "ViewPosition", path),
        photometric=photometric,
        bits_stored=bits_stored,
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
    except _READ_ERRORS as err:
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
    except _READ_ERRORS as err:
        logger.warning("%s: %s is not two numbers (%s); reported as None", path, keyword, err)
        return None
    if not (row > 0 and column > 0 and np.isfinite(row) and np.isfinite(column)):
        logger.warning("%s: %s %r is not positive; reported as None", path, keyword, value)
        return None
    return row, column

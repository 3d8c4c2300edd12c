"""Read DICOM radiographs (mammograms) into numpy arrays with typed metadata.

Unless ``raw=True``, :func:`read_dicom` runs the DICOM grayscale pipeline (PS3.3 C.11) with
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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut, apply_voi, apply_windowing, get_decoder
from pydicom.uid import UID

from histomammo.errors import DataFormatError, MissingDependencyError
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

__all__ = ["DEFAULT_MAX_DECOMPRESSED_BYTES", "DicomImage", "read_dicom"]

logger = logging.getLogger("histomammo")

VoiSpec = Literal["auto", "none"] | tuple[float, float]

_MONOCHROME = ("MONOCHROME1", "MONOCHROME2")
_FUNCTIONAL_GROUPS = ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence")


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
        the transfer syntax and the packages that decode it.
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
    pixels = stored if raw else _display_values(stored, dataset, header, path, voi, invert)
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
            missing = _missing_decoder(syntax, path, err) if syntax.is_compressed else None
            if missing is not None:
                raise missing from err
            raise
    if stored.shape != header.shape:
        raise DataFormatError(
            f"{path}: the pixel data decodes to shape {stored.shape}; expected {header.shape} "
            "from Number of Frames, Rows, Columns and Samples per Pixel"
        )
    # Big-endian files decode to '>u2'; callers get native byte order, same values.
    return stored.astype(stored.dtype.newbyteorder("="), copy=False)


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
        f"{_install_hint(decoder.missing_dependencies)}"
    )


def _install_hint(missing: list[str]) -> str:
    # pydicom names plugins by import name; the gdcm module is the pip package python-gdcm.
    gdcm = any(item.startswith("gdcm ") for item in missing)
    return "install one of: " + "; ".join(missing) + (" (pip install python-gdcm)" if gdcm else "")


def _display_values(
    stored: np.ndarray, dataset: Dataset, header: PixelHeader, path: Path, voi: VoiSpec,
    invert: bool,
) -> np.ndarray:
    photometric = _check_grayscale_pipeline_applies(dataset, path, voi)
    # Overflow to inf is refused below, with the values that caused it.
    with np.errstate(over="ignore", invalid="ignore"), Translated(path, "cannot apply the Modality LUT"):
        values = apply_modality_lut(stored, dataset)
    unit = _voi_in_unit_range(values, dataset, header, path, voi)
    if not np.isfinite(unit).all():
        raise DataFormatError(
            f"{path}: the rescale and window values give non-finite pixels; expected finite "
            "Rescale Slope / Intercept, Window Center / Width and LUT data"
        )
    outside = np.count_nonzero((unit < 0) | (unit > 1))
    if outside:
        logger.warning(
            "%s: %d pixel values lie outside the range declared by Bits Stored / LUT "
            "descriptors; clipped to [0, 1]", path, outside
        )
        np.clip(unit, 0.0, 1.0, out=unit)
    if invert and photometric == "MONOCHROME1":
        unit = 1.0 - unit
    return unit.astype(np.float32)


def _check_grayscale_pipeline_applies(dataset: Dataset, path: Path, voi: VoiSpec) -> str:
    """Refuse what the grayscale pipeline cannot apply; return the photometric interpretation."""
    photometric = element(dataset, "PhotometricInterpretation", path)
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
    function = str(element(dataset, "VOILUTFunction", path) or "LINEAR").upper()
    if isinstance(voi, tuple) and function == "LINEAR" and voi[1] < 1:
        raise ValueError(f"voi width must be >= 1 for the LINEAR VOI LUT Function, got {voi!r}")
    if voi == "auto" and _has_window(dataset, path):
        width = _finite_number(dataset, "WindowWidth", path)
        _finite_number(dataset, "WindowCenter", path)
        if width is not None and width < (1 if function == "LINEAR" else np.finfo(float).tiny):
            raise DataFormatError(
                f"{path}: Window Width is {width}; expected >= 1 for the LINEAR VOI LUT "
                "Function, > 0 for the others"
            )
    return str(photometric)


def _finite_number(dataset: Dataset, keyword: str, path: Path) -> float | None:
    """The first value of a numeric element as a finite float; None when absent."""
    value = element(dataset, keyword, path)
    if value is None:
        return None
    is_multi_valued = isinstance(value, Sequence) and not isinstance(value, (str, bytes))
    first = (value[0] if value else None) if is_multi_valued else value
    try:
        number = float(first)
    except (TypeError, ValueError):
        number = float("nan")
    if not np.isfinite(number):
        raise DataFormatError(f"{path}: {keyword} is {value!r}; expected a finite number")
    return number


def _voi_in_unit_range(
    values: np.ndarray, dataset: Dataset, header: PixelHeader, path: Path, voi: VoiSpec
) -> np.ndarray:
    """Apply the VOI step and divide by its known output range: float64, nominally [0, 1]."""
    if isinstance(voi, tuple):
        dataset.WindowCenter, dataset.WindowWidth = voi
        if "VOILUTSequence" in dataset:
            del dataset.VOILUTSequence
    if voi != "none" and _has_voi_lut(dataset, path):
        bits = _lut_bits(dataset, "VOILUTSequence", path)
        # LUT entries are indexed by integers; rescaled values are rounded, not truncated.
        with Translated(path, "cannot apply the VOI LUT Sequence"):
            output = apply_voi(np.rint(values).astype(np.int64), dataset, index=0)
        return output / float(2**bits - 1)
    low, high = _modality_output_range(dataset, header, path)
    if voi != "none" and _has_window(dataset, path):
        with np.errstate(over="ignore"), Translated(path, "cannot apply the window"):
            # SIGMOID's exp() overflows to inf, giving y_min
            output = apply_windowing(values, dataset, index=0)
        return (output - low) / (high - low)
    low, high = sorted((low, high))
    return (values - low) / (high - low)


def _has_voi_lut(dataset: Dataset, path: Path) -> bool:
    items = element(dataset, "VOILUTSequence", path)
    if not items:
        return False
    with Translated(path, "unreadable VOI LUT Sequence"):
        return None not in (items[0].get("LUTDescriptor"), items[0].get("LUTData"))


def _lut_bits(dataset: Dataset, keyword: str, path: Path) -> int:
    """Bits per entry from the first item's LUT Descriptor, validated (PS3.3 C.11.1.1)."""
    with Translated(path, f"unreadable {keyword}"):
        descriptor = dataset.get(keyword)[0].get("LUTDescriptor")
        bits = descriptor[2] if descriptor is not None and len(descriptor) == 3 else None
    if not isinstance(bits, (int, np.integer)) or not 1 <= bits <= 16:
        raise DataFormatError(
            f"{path}: {keyword} LUT Descriptor is {descriptor!r}; expected three integers, "
            "the last (bits per entry) in 1..16"
        )
    return int(bits)


def _has_window(dataset: Dataset, path: Path) -> bool:
    center, width = element(dataset, "WindowCenter", path), element(dataset, "WindowWidth", path)
    present = None not in (center, width)
    if not present and ("WindowCenter" in dataset or "WindowWidth" in dataset):
        logger.warning("%s: Window Center or Width is missing or empty; no window applied", path)
    return present


def _modality_output_range(
    dataset: Dataset, header: PixelHeader, path: Path
) -> tuple[float, float]:
    """``(y_min, y_max)``: the stored range through the Modality LUT.

    The stored range comes from Bits Stored and Pixel Representation; a Modality LUT
    Sequence outputs ``[0, 2**bits - 1]`` (PS3.3 C.11.1.1.1). This is also the output range
    :func:`pydicom.pixels.apply_windowing` maps a window onto, in the same order, so
    ``(windowed - y_min) / (y_max - y_min)`` is exactly 0 below the window and 1 above it.
    """
    if element(dataset, "ModalityLUTSequence", path):
        return 0.0, float(2 ** _lut_bits(dataset, "ModalityLUTSequence", path) - 1)
    bits = header.bits_stored
    if header.signed:
        low, high = float(-(2 ** (bits - 1))), float(2 ** (bits - 1) - 1)
    else:
        low, high = 0.0, float(2**bits - 1)
    slope = _finite_number(dataset, "RescaleSlope", path)
    intercept = _finite_number(dataset, "RescaleIntercept", path)
    if slope is not None and intercept is not None:
        with np.errstate(over="ignore"):
            low, high = low * slope + intercept, high * slope + intercept
    if not (np.isfinite(low) and np.isfinite(high)) or low == high:
        raise DataFormatError(
            f"{path}: Rescale Slope {slope} and Intercept {intercept} map the stored range "
            f"of {bits} bits to [{low}, {high}]; expected a finite range of distinct values"
        )
    return low, high


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

"""The DICOM grayscale pipeline for [`histomammo.io.dicom`][histomammo.io.dicom]: Modality LUT, VOI
LUT or
window, divided by the known output range, with every rescale, window and LUT value
validated (finite, in range) before it is applied.

Private: the public reader is [`histomammo.io.dicom.read_dicom`][histomammo.io.read_dicom].
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut, apply_voi, apply_windowing

from histomammo.errors import DataFormatError
from histomammo.io._dicom_file import PixelHeader, Translated, element

__all__ = ["VoiSpec", "display_values"]

logger = logging.getLogger("histomammo")

VoiSpec = Literal["auto", "none"] | tuple[float, float]

_MONOCHROME = ("MONOCHROME1", "MONOCHROME2")
_FUNCTIONAL_GROUPS = ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence")


def display_values(
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
    if voi == "auto":  # the file's window, if any, must be finite
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
        number = float(first) if first is not None else float("nan")
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
    `pydicom.pixels.apply_windowing` maps a window onto, in the same order, so
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

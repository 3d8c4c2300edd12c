"""Synthetic mammography DICOM: a breast-shaped image generator and an MG DICOM writer.

[`synthetic_mammogram`][histomammo.datasets.synthetic.synthetic_mammogram] draws a breast-shaped
image; [`write_dicom`][histomammo.datasets.synthetic.write_dicom] stores an
image as a Digital Mammography X-Ray Image (Modality MG) DICOM file.
"""

from __future__ import annotations

import datetime
import gzip as gzip_module
import hashlib
import io
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    DigitalMammographyXRayImageStorageForPresentation,
    DigitalMammographyXRayImageStorageForProcessing,
    ExplicitVRLittleEndian,
    generate_uid,
)
from scipy import ndimage

from histomammo._atomic import atomic_write

__all__ = ["synthetic_mammogram", "write_dicom"]

# ---------------------------------------------------------------------------------------------
# Mammography (DICOM)
# ---------------------------------------------------------------------------------------------

# Patient Orientation (0020,0020) of the standard mammographic views, PS3.3 C.8.11.7: the
# first value is the direction of the rows (left to right), the second that of the columns.
_PATIENT_ORIENTATION = {
    ("L", "CC"): ["A", "R"],
    ("R", "CC"): ["P", "L"],
    ("L", "MLO"): ["A", "FR"],
    ("R", "MLO"): ["P", "FL"],
}
# SNOMED CT view codes (DICOM CID 4014) for the View Code Sequence (0054,0220).
_VIEW_CODES = {"CC": ("399162004", "cranio-caudal"), "MLO": ("399368009", "medio-lateral oblique")}
_PHOTOMETRIC = ("MONOCHROME1", "MONOCHROME2")
_VOI_FUNCTIONS = ("LINEAR", "LINEAR_EXACT", "SIGMOID")


def synthetic_mammogram(
    shape: tuple[int, int],
    rng: np.random.Generator,
    *,
    laterality: str = "L",
    bits_stored: int = 12,
    view: str = "CC",
) -> np.ndarray:
    """Draw a plausible mammogram: a bright breast against the chest wall on a dark background.

    The breast is a half-ellipse whose flat side lies on the chest wall: the left image edge
    for ``laterality="L"``, the right edge for ``"R"`` (the standard display, nipple pointing
    into the image). Inside it, smooth fibroglandular texture is brightest near the chest wall
    and fades toward the skin line, where the compressed breast is thinnest. ``view="MLO"``
    adds the pectoral muscle, a bright triangle in the upper chest-wall corner. The
    background is dark noise, as behind a real detector. Values follow MONOCHROME2 (dense is
    bright).

    Parameters
    ----------
    shape : (int, int)
        ``(H, W)``, each at least 16.
    rng : numpy.random.Generator
        Source of all randomness (texture, noise, breast size).
    laterality : {"L", "R"}
        Side of the chest wall in the image.
    bits_stored : int
        Values lie in ``[0, 2**bits_stored - 1]``; 8 to 16.
    view : {"CC", "MLO"}
        ``"MLO"`` adds the pectoral muscle.

    Returns
    -------
    numpy.ndarray
        uint16 ``(H, W)``.

    Raises
    ------
    ValueError
        A bad shape, laterality, view or bits_stored.

    Examples
    --------
    >>> import numpy as np
    >>> image = synthetic_mammogram((64, 48), np.random.default_rng(0), laterality="L")
    >>> image.shape, image.dtype
    ((64, 48), dtype('uint16'))
    >>> bool(image[:, :8].mean() > image[:, -8:].mean())  # breast on the left
    True
    """
    height, width = _checked_shape(shape)
    _check_choice("laterality", laterality, ("L", "R"))
    _check_choice("view", view, tuple(_VIEW_CODES))
    if not 8 <= bits_stored <= 16:
        raise ValueError(f"bits_stored must be between 8 and 16, got {bits_stored}")
    # Open grids and float32 keep a full-size (4096 x 3328) image to a few temporaries.
    rows = np.arange(height, dtype=np.float32)[:, None]
    cols = np.arange(width, dtype=np.float32)[None, :]
    depth = (cols if laterality == "L" else width - 1 - cols) / width  # 0 at the chest wall
    center = height * rng.uniform(0.45, 0.55)
    semi_height, semi_depth = height * rng.uniform(0.38, 0.46), rng.uniform(0.6, 0.85)
    radius = np.hypot((rows - center) / semi_height, depth / semi_depth)  # < 1 inside
    thickness = np.sqrt(np.clip(1.0 - radius**2, 0.0, 1.0))
    tissue = 0.45 + 0.3 * thickness + 0.15 * _smooth_noise((height, width), rng)
    tissue *= 0.7 + 0.3 * thickness  # thinner, hence darker, toward the skin line
    breast = radius < 1.0
    if view == "MLO":
        pectoral = depth < 0.35 * (1.0 - rows / (0.6 * height))
        tissue[pectoral] = np.maximum(tissue[pectoral], 0.8)  # muscle is dense
        breast |= pectoral
    background = rng.normal(0.03, 0.01, (height, width)).astype(np.float32)
    unit = np.clip(np.where(breast, tissue, background), 0.0, 1.0)
    return np.rint(unit * (2**bits_stored - 1)).astype(np.uint16)


def _smooth_noise(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Low-frequency texture in [-1, 1]: coarse noise, upsampled and smoothed (fast at 4k)."""
    coarse = rng.standard_normal((max(shape[0] // 16, 4), max(shape[1] // 16, 4)))
    zoom = (shape[0] / coarse.shape[0], shape[1] / coarse.shape[1])
    texture = ndimage.zoom(ndimage.gaussian_filter(coarse, 1.0), zoom, order=1)
    texture = texture[: shape[0], : shape[1]].astype(np.float32)
    return texture / max(float(np.abs(texture).max()), 1e-12)


def write_dicom(
    path: str | os.PathLike[str],
    pixels: np.ndarray,
    *,
    photometric: str = "MONOCHROME2",
    bits_stored: int = 12,
    laterality: str = "L",
    view: str = "CC",
    window: tuple[float, float] | Literal["full"] | None = "full",
    voi_function: str | None = None,
    patient_id: str = "P0000",
    study_date: str = "20200101",
    pixel_spacing: tuple[float, float] | None = (0.1, 0.1),
    manufacturer: str = "histomammo synthetic",
    gzip: bool = False,
    **extra_elements: Any,
) -> Path:
    """Write ``pixels`` as a Digital Mammography X-Ray Image DICOM file (Modality MG).

    The file is a DICOM Part 10 file in Explicit VR Little Endian with the Mammography Image
    module filled in: 16-bit words, ``HighBit = bits_stored - 1``, unsigned pixels, image
    laterality, view position and view code, patient orientation, presentation LUT shape
    matching the photometric interpretation, identity rescale. UIDs derive from the patient,
    study date, view and pixel values, so the same call always writes the same file and the
    views of one patient and date share a study.

    Parameters
    ----------
    path : str or os.PathLike
        Output file; its directory must exist. Written atomically.
    pixels : numpy.ndarray
        ``(H, W)`` array of non-negative integers, stored as uint16; values are written as
        given (no inversion for MONOCHROME1).
    photometric : {"MONOCHROME2", "MONOCHROME1"}
        Photometric Interpretation; MONOCHROME1 means low values display bright.
    bits_stored : {12, 14}
        Bits Stored; values above ``2**bits_stored - 1`` are refused.
    laterality : {"L", "R"}
        Image Laterality and Laterality.
    view : {"CC", "MLO"}
        View Position.
    window : (float, float), "full" or None
        Window Center and Window Width. ``"full"`` spans the whole stored range,
        ``(2**(bits_stored - 1), 2**bits_stored)``, which LINEAR maps onto itself; None writes
        no window.
    voi_function : {"LINEAR", "LINEAR_EXACT", "SIGMOID"}, optional
        VOI LUT Function; None leaves it out (which means LINEAR).
    patient_id : str
        Patient ID (also the Patient Name).
    study_date : str
        Study Date, ``YYYYMMDD``.
    pixel_spacing : (float, float) or None
        Pixel Spacing and Imager Pixel Spacing in mm, ``(row, column)``; None leaves both out.
    manufacturer : str
        Manufacturer.
    gzip : bool
        Gzip-compress the whole file (the name is used as given; ``.dcm.gz`` is customary).
    **extra_elements
        Further elements by DICOM keyword, e.g. ``BurnedInAnnotation="YES"`` or
        ``RescaleSlope=2``; they are set last and so override the above. A value of None
        deletes the element (e.g. ``ImageLaterality=None`` leaves only Laterality).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    TypeError
        ``pixels`` is not an integer array.
    ValueError
        Wrong shape, negative values or values above ``2**bits_stored - 1``, an unknown
        photometric interpretation, laterality, view, VOI LUT function or keyword, or a study
        date that is not ``YYYYMMDD``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np, pydicom
    >>> image = synthetic_mammogram((64, 48), np.random.default_rng(0))
    >>> path = write_dicom(pathlib.Path(tempfile.mkdtemp()) / "L_CC.dcm", image, view="CC")
    >>> ds = pydicom.dcmread(path)
    >>> ds.Modality, ds.ImageLaterality, ds.ViewPosition, ds.BitsStored, ds.HighBit
    ('MG', 'L', 'CC', 12, 11)
    >>> bool((ds.pixel_array == image).all())
    True
    """
    stored = _checked_pixels(pixels, bits_stored)
    _check_choice("photometric", photometric, _PHOTOMETRIC)
    _check_choice("laterality", laterality, ("L", "R"))
    _check_choice("view", view, tuple(_VIEW_CODES))
    if voi_function is not None:
        _check_choice("voi_function", voi_function, _VOI_FUNCTIONS)
    try:
        datetime.datetime.strptime(study_date, "%Y%m%d")
    except (TypeError, ValueError):
        raise ValueError(f"study_date must be a YYYYMMDD string, got {study_date!r}") from None
    dataset = _mammography_dataset(stored, photometric, bits_stored, laterality, view)
    dataset.update(_study_elements(patient_id, study_date, manufacturer))
    _set_uids(dataset, stored, patient_id, study_date, laterality, view)
    if window == "full":
        window = (2.0 ** (bits_stored - 1), 2.0**bits_stored)
    if window is not None:
        dataset.WindowCenter, dataset.WindowWidth = (float(value) for value in window)
    if voi_function is not None:
        dataset.VOILUTFunction = voi_function
    if pixel_spacing is not None:
        dataset.PixelSpacing = dataset.ImagerPixelSpacing = [float(v) for v in pixel_spacing]
    _set_extra_elements(dataset, extra_elements)
    return _save(dataset, Path(path), gzip)


def _checked_shape(shape: tuple[int, int]) -> tuple[int, int]:
    if len(shape) != 2 or min(shape) < 16:
        raise ValueError(f"shape must be (H, W) with H, W >= 16, got {shape}")
    return int(shape[0]), int(shape[1])


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def _checked_pixels(pixels: np.ndarray, bits_stored: int) -> np.ndarray:
    pixels = np.asarray(pixels)
    if pixels.dtype.kind not in "ui":
        raise TypeError(f"pixels must be an integer array, got dtype {pixels.dtype}")
    if pixels.ndim != 2 or 0 in pixels.shape:
        raise ValueError(f"pixels must be a non-empty (H, W) array, got shape {pixels.shape}")
    if bits_stored not in (12, 14):
        raise ValueError(f"bits_stored must be 12 or 14, got {bits_stored}")
    low, high = int(pixels.min()), int(pixels.max())
    if low < 0 or high > 2**bits_stored - 1:
        raise ValueError(
            f"pixel values must lie in [0, {2**bits_stored - 1}] for bits_stored={bits_stored}, "
            f"got [{low}, {high}]"
        )
    return np.ascontiguousarray(pixels, dtype="<u2")


def _mammography_dataset(
    stored: np.ndarray, photometric: str, bits_stored: int, laterality: str, view: str
) -> Dataset:
    """Image Pixel, DX Image and Mammography Image module elements."""
    dataset = Dataset()
    dataset.Modality = "MG"
    dataset.ImageType = ["ORIGINAL", "PRIMARY", ""]
    dataset.PresentationIntentType = "FOR PRESENTATION"
    dataset.SOPClassUID = DigitalMammographyXRayImageStorageForPresentation
    dataset.Rows, dataset.Columns = stored.shape
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = photometric
    dataset.BitsAllocated = 16
    dataset.BitsStored = bits_stored
    dataset.HighBit = bits_stored - 1
    dataset.PixelRepresentation = 0
    dataset.PresentationLUTShape = "INVERSE" if photometric == "MONOCHROME1" else "IDENTITY"
    dataset.RescaleIntercept, dataset.RescaleSlope, dataset.RescaleType = 0, 1, "US"
    dataset.BurnedInAnnotation = "NO"
    dataset.PositionerType = "MAMMOGRAPHIC"
    dataset.BodyPartExamined = "BREAST"
    dataset.ImageLaterality = dataset.Laterality = laterality
    dataset.ViewPosition = view
    dataset.PatientOrientation = _PATIENT_ORIENTATION[(laterality, view)]
    dataset.ViewCodeSequence = [_code_item(*_VIEW_CODES[view])]
    dataset.AnatomicRegionSequence = [_code_item("76752008", "Breast")]
    dataset.PixelData = stored.tobytes()
    dataset["PixelData"].VR = "OW"
    return dataset


def _code_item(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "SCT", meaning
    return item


def _study_elements(patient_id: str, study_date: str, manufacturer: str) -> Dataset:
    dataset = Dataset()
    dataset.PatientID = dataset.PatientName = patient_id
    dataset.StudyDate = dataset.SeriesDate = dataset.ContentDate = study_date
    dataset.StudyTime = dataset.ContentTime = "000000"
    dataset.AccessionNumber = dataset.ReferringPhysicianName = ""
    dataset.PatientBirthDate = dataset.PatientSex = ""
    dataset.StudyID, dataset.SeriesNumber, dataset.InstanceNumber = "1", 1, 1
    dataset.Manufacturer = manufacturer
    return dataset


def _set_uids(
    dataset: Dataset, stored: np.ndarray, patient_id: str, study_date: str, laterality: str,
    view: str,
) -> None:
    """Deterministic UIDs: one study per patient and date, one series per view."""
    study = [patient_id, study_date]
    series = [*study, laterality, view]
    instance = [*series, hashlib.sha256(stored.tobytes()).hexdigest()]
    dataset.StudyInstanceUID = generate_uid(entropy_srcs=study)
    dataset.SeriesInstanceUID = generate_uid(entropy_srcs=series)
    dataset.SOPInstanceUID = generate_uid(entropy_srcs=instance)


def _set_extra_elements(dataset: Dataset, elements: dict[str, Any]) -> None:
    for keyword, value in elements.items():
        if tag_for_keyword(keyword) is None:
            raise ValueError(f"{keyword!r} is not a DICOM keyword (extra_elements)")
        if value is None:
            if keyword in dataset:
                delattr(dataset, keyword)
        else:
            setattr(dataset, keyword, value)
    if dataset.get("PresentationIntentType") == "FOR PROCESSING":
        dataset.SOPClassUID = DigitalMammographyXRayImageStorageForProcessing


def _save(dataset: Dataset, path: Path, compress: bool) -> Path:
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    data = buffer.getvalue()
    with atomic_write(path, "wb") as handle:
        handle.write(gzip_module.compress(data, mtime=0) if compress else data)
    return path

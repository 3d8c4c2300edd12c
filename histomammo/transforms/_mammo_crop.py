"""Breast foreground, Otsu cropping (thesis section 5.1), marker removal and orientation."""

from __future__ import annotations

import logging
import math
from typing import Literal, NamedTuple

import numpy as np
from scipy import ndimage

from histomammo.transforms._mammo_otsu import otsu_threshold
from histomammo.transforms._mammo_resize import _as_dtype, area_resize, downscale_area

__all__ = ["CropResult", "CropStages", "breast_mask", "orient_left", "otsu_crop", "otsu_crop_stages",
           "remove_markers"]

logger = logging.getLogger("histomammo.transforms.mammo")

_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)  # as OpenCV's connectedComponents default


class CropResult(NamedTuple):
    """What [`otsu_crop`][histomammo.transforms.mammo.otsu_crop] returns.

    Attributes
    ----------
    image : numpy.ndarray
        The crop resized to ``out_size``, in the input's dtype.
    box : tuple of int
        ``(x0, y0, x1, y1)`` in full-resolution pixel coordinates of the input, x along
        columns, the end exclusive (torchvision's XYXY convention, integer pixel edges).
    """

    image: np.ndarray
    box: tuple[int, int, int, int]


class CropStages(NamedTuple):
    """Every intermediate of [`otsu_crop`][histomammo.transforms.mammo.otsu_crop] (figure 5.2 of the
    thesis), for figures and checks.

    Attributes
    ----------
    blurred : numpy.ndarray
        The blurred area-reduced copy the box is searched on, the input's dtype.
    foreground : numpy.ndarray
        bool, same shape: its Otsu foreground.
    boxes : list of tuple of int
        ``(x0, y0, x1, y1)`` of every 8-connected foreground component, full-resolution pixels.
    box : tuple of int
        The box of the component with the most foreground pixels (the whole image if none).
    image : numpy.ndarray
        The crop of the original, resized to ``out_size``.
    factor : int
        Reduction factor of ``blurred`` relative to the input.
    """

    blurred: np.ndarray
    foreground: np.ndarray
    boxes: list[tuple[int, int, int, int]]
    box: tuple[int, int, int, int]
    image: np.ndarray
    factor: int


def _check_image(image: np.ndarray, name: str) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"{name} needs a 2-D (H, W) greyscale image, got shape {image.shape}")
    if image.dtype.kind not in "uif":
        raise ValueError(f"{name} needs an integer or float image, got dtype {image.dtype}")
    return image


def _reduced_copy(image: np.ndarray, working_size: int) -> tuple[np.ndarray, int]:
    """Area-averaged copy whose longer side is at most ``working_size``, and its factor."""
    factor = max(1, math.ceil(max(image.shape) / working_size))
    reduced = downscale_area(image, factor) if factor > 1 else image
    return reduced, factor


def _largest_component(foreground: np.ndarray) -> np.ndarray | None:
    """The 8-connected component with the most pixels, or None when there is no foreground."""
    labels, count = ndimage.label(foreground, structure=_EIGHT_CONNECTED)
    if count == 0:
        return None
    sizes = np.bincount(labels.reshape(-1), minlength=count + 1)
    sizes[0] = 0
    return labels == int(np.argmax(sizes))


def _blurred(reduced: np.ndarray, blur_sigma: float) -> np.ndarray:
    blurred = ndimage.gaussian_filter(reduced.astype(np.float32), blur_sigma) if blur_sigma else reduced
    return _as_dtype(blurred, reduced.dtype)  # integer data keeps its full integer histogram


def _foreground(reduced: np.ndarray, blur_sigma: float) -> np.ndarray | None:
    """Otsu foreground of a slightly blurred copy; None for a constant image."""
    blurred = _blurred(reduced, blur_sigma)
    if blurred.min() == blurred.max():
        return None
    return blurred > otsu_threshold(blurred)


def breast_mask(
    image: np.ndarray, *, blur_sigma: float = 1.0, working_size: int = 512, margin: int = 1
) -> np.ndarray | None:
    """Boolean mask of the breast: the largest Otsu foreground component, holes filled.

    Found on an area-reduced copy (longer side ``working_size``), then dilated by
    ``margin`` reduced pixels so that the skin line at the edge stays inside, and mapped
    back to full resolution. Returns None for a constant image.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((64, 64), np.uint16); image[8:40, :30] = 3000
    >>> mask = breast_mask(image)
    >>> mask.shape, bool(mask[20, 10]), bool(mask[60, 60])
    ((64, 64), True, False)
    """
    image = _check_image(image, "breast_mask")
    reduced, factor = _reduced_copy(image, working_size)
    foreground = _foreground(reduced, blur_sigma)
    breast = None if foreground is None else _largest_component(foreground)
    if breast is None:
        return None
    breast = ndimage.binary_fill_holes(breast)
    if margin:
        breast = ndimage.binary_dilation(breast, _EIGHT_CONNECTED, iterations=margin)
    if factor > 1:
        breast = np.repeat(np.repeat(breast, factor, 0), factor, 1)[: image.shape[0], : image.shape[1]]
    return breast


def otsu_crop(
    image: np.ndarray,
    *,
    blur_sigma: float = 1.0,
    out_size: tuple[int, int] = (224, 224),
    working_size: int = 512,
) -> CropResult:
    """Crop to the breast and resize: the thesis's cropping method (section 5.1, figure 5.2).

    Steps: a slightly Gaussian-blurred copy, Otsu foreground, the 8-connected components,
    the one with the most foreground pixels, its bounding box, the original cropped to it
    and area-resized to ``out_size``. The paper runs every step at full resolution with
    OpenCV on an 8-bit copy; here the box is found on an area-reduced copy (longer side at
    most ``working_size``, a factor of 8 for a 4096x3328 image), with the exact Otsu
    threshold of its integer histogram, and mapped back to full-resolution pixels (each
    reduced pixel's whole block), then the crop and the resize run on the full-resolution
    original. The box matches the full-resolution one to within a block (IoU >= 0.98 on
    full-field mammograms, see ``benchmarks/bench_mammo_crop.py``) at a fraction of the cost.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)`` greyscale, dense tissue bright (MONOCHROME2 or
        [`read_dicom`][histomammo.io.read_dicom]
        output), any integer or float dtype.
    blur_sigma : float
        Gaussian sigma in pixels of the reduced copy (whose area averaging already smooths
        the full-resolution image); 0 disables the blur.
    out_size : (int, int)
        ``(rows, columns)`` of the result; 224x224 in the thesis.
    working_size : int
        Longer side of the reduced copy the box is searched on.

    Returns
    -------
    CropResult
        ``(image, box)``. A constant or empty (all-background) image gives the whole image
        resized and the whole box, with a warning.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((400, 300), np.uint16); image[100:300, 0:150] = 3000
    >>> result = otsu_crop(image, out_size=(32, 32))
    >>> result.box
    (0, 100, 150, 300)
    >>> result.image.shape, result.image.dtype
    ((32, 32), dtype('uint16'))
    """
    stages = otsu_crop_stages(image, blur_sigma=blur_sigma, out_size=out_size,
                              working_size=working_size)
    return CropResult(stages.image, stages.box)


def otsu_crop_stages(
    image: np.ndarray,
    *,
    blur_sigma: float = 1.0,
    out_size: tuple[int, int] = (224, 224),
    working_size: int = 512,
) -> CropStages:
    """[`otsu_crop`][histomammo.transforms.mammo.otsu_crop] returning every intermediate
    ([`CropStages`][histomammo.transforms.mammo.CropStages]); same parameters.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((400, 300), np.uint16); image[100:300, 0:150] = 3000; image[5:9, 250:290] = 4095
    >>> stages = otsu_crop_stages(image, out_size=(32, 32))
    >>> stages.boxes, stages.box
    ([(250, 5, 290, 9), (0, 100, 150, 300)], (0, 100, 150, 300))
    """
    image = _check_image(image, "otsu_crop")
    rows, cols = (int(v) for v in out_size)
    if image.size == 0:
        logger.warning("otsu_crop: empty image of shape %s; returning zeros", image.shape)
        empty = np.zeros((0, 0), image.dtype)
        return CropStages(empty, empty.astype(bool), [], (0, 0, 0, 0), np.zeros((rows, cols), image.dtype), 1)
    reduced, factor = _reduced_copy(image, working_size)
    blurred = _blurred(reduced, blur_sigma)
    constant = blurred.min() == blurred.max()
    foreground = np.zeros(blurred.shape, bool) if constant else blurred > otsu_threshold(blurred)
    labels, count = ndimage.label(foreground, structure=_EIGHT_CONNECTED)
    boxes = [_full_box(found, factor, image.shape) for found in ndimage.find_objects(labels)]
    if count == 0:
        logger.warning("otsu_crop: constant image (no foreground); returning the whole image resized")
        box = (0, 0, image.shape[1], image.shape[0])
    else:
        sizes = np.bincount(labels.reshape(-1), minlength=count + 1)
        box = boxes[int(np.argmax(sizes[1:]))]
    crop = image[box[1] : box[3], box[0] : box[2]]
    return CropStages(blurred, foreground, boxes, box, area_resize(crop, (rows, cols)), factor)


def _full_box(found: tuple[slice, ...], factor: int, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """A reduced-copy bounding box as full-resolution XYXY pixels (whole blocks)."""
    row_slice, col_slice = found
    return (col_slice.start * factor, row_slice.start * factor,
            min(col_slice.stop * factor, shape[1]), min(row_slice.stop * factor, shape[0]))


def remove_markers(
    image: np.ndarray,
    *,
    method: Literal["saturated", "outside_breast"] = "saturated",
    level: float | None = None,
    background: float | None = None,
    working_size: int = 512,
) -> np.ndarray:
    """Remove burned-in scanner markers, labels and rulers.

    ``"saturated"`` is the thesis's naive method (section 5.1): the brightest pixels, those
    ``>= level`` (by default the image's maximum), are set to the background. It is cheap,
    but it misses grey markers (the older kind the thesis mentions) and it also blanks any
    tissue that happens to reach the brightest value. ``"outside_breast"`` keeps only the
    breast ([`breast_mask`][histomammo.transforms.mammo.breast_mask]: the largest Otsu foreground
    component, holes filled,
    dilated by one reduced pixel to keep the skin line) and sets everything else to the
    background, which removes grey markers too while calcifications and skin inside the
    breast stay untouched.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)``, dense tissue bright, any integer or float dtype.
    method : {"saturated", "outside_breast"}
        See above.
    level : float, optional
        ``"saturated"`` only: the lowest marker value; default the image maximum.
    background : float, optional
        Value written over markers; default the image minimum.
    working_size : int
        ``"outside_breast"`` only: longer side of the reduced copy the mask is found on.

    Returns
    -------
    numpy.ndarray
        A new array, same shape and dtype.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((64, 64), np.uint16); image[8:56, :30] = 2000
    >>> image[2:6, 50:60] = 4095       # a bright marker block
    >>> image[58:62, 50:60] = 1500     # a grey marker
    >>> naive = remove_markers(image)
    >>> int(naive[3, 55]), int(naive[60, 55])
    (0, 1500)
    >>> int(remove_markers(image, method="outside_breast")[60, 55])
    0
    """
    image = _check_image(image, "remove_markers")
    if image.size == 0:
        return image.copy()
    fill = image.min() if background is None else background
    out = image.copy()
    if method == "saturated":
        out[image >= (image.max() if level is None else level)] = fill
    elif method == "outside_breast":
        mask = breast_mask(image, working_size=working_size)
        if mask is not None:
            out[~mask] = fill
    else:
        raise ValueError(f"method must be 'saturated' or 'outside_breast', got {method!r}")
    return out


def orient_left(
    image: np.ndarray, laterality: str | None = None
) -> tuple[np.ndarray, bool]:
    """Mirror the image if needed so that the breast lies against the left edge.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)`` or ``(H, W, C)``, dense tissue bright.
    laterality : {"L", "R"}, optional
        Image laterality from the DICOM header
        ([`DicomImage.laterality`][histomammo.io.dicom.DicomImage.laterality]): in the
        standard display a right breast lies against the right edge, so ``"R"`` is
        mirrored. None (or ``"B"``/``"U"``) infers the side from where the tissue is: the
        half with the larger sum of intensity above the image minimum holds the chest wall.

    Returns
    -------
    (numpy.ndarray, bool)
        The (possibly mirrored) image and whether it was mirrored.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((4, 6), np.uint8); image[:, 4:] = 200
    >>> flipped, was_flipped = orient_left(image)
    >>> was_flipped, int(flipped[0, 0])
    (True, 200)
    >>> orient_left(image, "L")[1]
    False
    """
    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ValueError(f"orient_left needs an (H, W) or (H, W, C) image, got shape {image.shape}")
    if laterality is not None and laterality not in ("L", "R", "B", "U"):
        raise ValueError(f"laterality must be 'L', 'R' or None, got {laterality!r}")
    if laterality in ("L", "R"):
        flip = laterality == "R"
    else:
        half = image.shape[1] // 2
        tissue = image.astype(np.float64) - float(image.min())
        flip = bool(tissue[:, image.shape[1] - half :].sum() > tissue[:, :half].sum())
    return (np.ascontiguousarray(image[:, ::-1]) if flip else image.copy()), flip

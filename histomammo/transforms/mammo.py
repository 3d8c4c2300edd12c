"""Mammogram preprocessing: marker removal, area downscaling, orientation, Otsu cropping.

Pure functions on numpy arrays (``(H, W)``, any integer or float dtype, dense tissue bright
as in MONOCHROME2 or [`histomammo.io.read_dicom`][histomammo.io.read_dicom] output; the input dtype
is kept unless
a function says otherwise), each with a thin ``torchvision.transforms.v2`` class that also
accepts ``(1, H, W)`` tensors and ``tv_tensors.Image``.

The thesis's two pipelines (section 5.1) are
[`preprocess_naive`][histomammo.transforms.mammo.preprocess_naive] (saturated markers
removed, area-downscaled by 8, breast to the left, 512x416) and
[`preprocess_crop`][histomammo.transforms.mammo.preprocess_crop]
(markers removed, [`otsu_crop`][histomammo.transforms.mammo.otsu_crop] to 224x224).
[`otsu_threshold`][histomammo.transforms.mammo.otsu_threshold] is the exact Otsu
threshold on the full integer histogram (section 5.1.1); ``method="opencv8"`` reproduces
the thesis's OpenCV behaviour on an 8-bit copy.
[`normalize_intensity`][histomammo.transforms.mammo.normalize_intensity] is the contrast
fix section 6.5 left to future work.

Examples
--------
>>> import numpy as np
>>> from histomammo.transforms.mammo import preprocess_crop, preprocess_naive
>>> image = np.zeros((4096, 3328), np.uint16); image[600:3500, :2400] = 2500
>>> preprocess_naive(image).shape, preprocess_crop(image).shape
((512, 416), (224, 224))
"""

from histomammo.transforms._mammo_crop import (
    CropResult,
    CropStages,
    breast_mask,
    orient_left,
    otsu_crop,
    otsu_crop_stages,
    remove_markers,
)
from histomammo.transforms._mammo_otsu import otsu_threshold
from histomammo.transforms._mammo_presets import (
    normalize_intensity,
    preprocess_crop,
    preprocess_naive,
)
from histomammo.transforms._mammo_resize import area_resize, downscale_area
from histomammo.transforms._mammo_v2 import (
    DownscaleArea,
    NormalizeIntensity,
    OrientLeft,
    OtsuCrop,
    PreprocessCrop,
    PreprocessNaive,
    RemoveMarkers,
)

__all__ = [
    "CropResult",
    "CropStages",
    "DownscaleArea",
    "NormalizeIntensity",
    "OrientLeft",
    "OtsuCrop",
    "PreprocessCrop",
    "PreprocessNaive",
    "RemoveMarkers",
    "area_resize",
    "breast_mask",
    "downscale_area",
    "normalize_intensity",
    "orient_left",
    "otsu_crop",
    "otsu_crop_stages",
    "otsu_threshold",
    "preprocess_crop",
    "preprocess_naive",
    "remove_markers",
]

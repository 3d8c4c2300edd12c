"""Stain normalisation and augmentation of H&E (and H-DAB) images.

Functions work on one numpy ``(H, W, 3)`` RGB image (uint8, or float on [0, 1]); the classes
take numpy ``(H, W, 3)`` / ``(N, H, W, 3)`` or torch ``(3, H, W)`` / ``(N, 3, H, W)``, uint8 or
float, on any device, batched in torch, and give back the input's kind, dtype and device.

- **Normalisation**: [`StainNormalizer`][histomammo.transforms.stain.StainNormalizer] (Macenko,
  Vahadane, Reinhard) and its v2 transform
  [`NormalizeStain`][histomammo.transforms.stain.NormalizeStain];
  [`macenko_stain_matrix`][histomammo.transforms.stain.macenko_stain_matrix] and
  [`vahadane_stain_matrix`][histomammo.transforms.stain.vahadane_stain_matrix]: ``(3, 2)`` unit
  OD vectors, haematoxylin first (the column with the larger red optical density).
- **Augmentation**: [`HEDJitter`][histomammo.transforms.stain.HEDJitter] (Tellez et al.) and
  [`RandStainNA`][histomammo.transforms.stain.RandStainNA] (Shen et al.).
- **Empty tiles**: A tile counts as tissue when at least ``MIN_TISSUE_FRACTION`` (1 %) of its
  pixels have an optical density of at least ``beta`` (0.15) in every channel and those pixels
  are not all of one colour (second eigenvalue of their OD covariance at least 1e-6). Other
  tiles (all white, all black, one colour) are returned unchanged, with one logged warning per
  call; the estimators ``*_stain_matrix`` and ``fit`` raise ``DataFormatError`` on them.

References
----------
Macenko et al., "A method for normalizing histology slides for quantitative analysis",
ISBI 2009. Vahadane et al., "Structure-preserving color normalization and sparse stain
separation for histological images", IEEE TMI 35(8), 2016. Reinhard et al., "Color transfer
between images", IEEE CG&A 21(5), 2001. Tellez et al., "Whole-slide mitosis detection in H&E
breast histology using PHH3 as a reference to train distilled stain-invariant convolutional
networks", IEEE TMI 37(9), 2018. Shen et al., "RandStainNA: Learning stain-agnostic features
from histology slides by bridging stain augmentation and normalization", MICCAI 2022.
Ruifrok & Johnston, "Quantification of histochemical staining by color deconvolution", AQCH
23(4), 2001.
"""

from histomammo.transforms.stain._augment import HEDJitter, hed_jitter
from histomammo.transforms.stain._macenko import macenko_stain_matrix
from histomammo.transforms.stain._normalizer import NormalizeStain, StainNormalizer
from histomammo.transforms.stain._od import MIN_TISSUE_FRACTION, od_to_rgb, rgb_to_od
from histomammo.transforms.stain._randstainna import (
    CRC_LAB_STATISTICS,
    RandStainNA,
    StainStatistics,
    channel_statistics,
)
from histomammo.transforms.stain._vahadane import vahadane_stain_matrix

__all__ = [
    "CRC_LAB_STATISTICS", "HEDJitter", "MIN_TISSUE_FRACTION", "NormalizeStain", "RandStainNA",
    "StainNormalizer", "StainStatistics", "channel_statistics", "hed_jitter", "macenko_stain_matrix",
    "od_to_rgb", "rgb_to_od", "vahadane_stain_matrix",
]

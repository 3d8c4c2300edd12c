"""Otsu cropping of a full-field mammogram: histomammo against the thesis's OpenCV pipeline.

Claim: :func:`histomammo.transforms.mammo.otsu_crop` on a 4096x3328 uint16 (12-bit)
mammogram is at least 4x faster than the thesis's OpenCV pipeline (section 5.1:
GaussianBlur, Otsu on an 8-bit copy, connectedComponentsWithStats, the largest component,
crop, INTER_AREA resize to 224x224), and its box is within IoU 0.98 of the full-resolution
box. Also timed: the same steps in scikit-image at full resolution, and a plain
``image.copy()`` as the memory-bandwidth floor (one read and one write of the image).

histomammo finds the box on an area-reduced copy (factor 8) and crops and resizes at full
resolution; the peers run every step at full resolution. All three return a 224x224 crop.

Run: ``python benchmarks/bench_mammo_crop.py`` (about 20 s on 2 cores).
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np
from harness import measure, print_ratio, report
from scipy import ndimage
from skimage import filters, transform
from skimage import measure as skmeasure

from histomammo.datasets.synthetic import screening_mammogram
from histomammo.transforms.mammo import otsu_crop, remove_markers


def opencv_pipeline(image: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The thesis's OpenCV steps, every one at full resolution."""
    blurred = cv2.GaussianBlur(image, (5, 5), 0)
    eight = cv2.normalize(blurred, None, 0, 255, cv2.NORM_MINMAX, cv2.CV_8U)
    _, mask = cv2.threshold(eight, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, w, h = (int(v) for v in stats[largest, :4])
    crop = image[y : y + h, x : x + w]
    return cv2.resize(crop, (224, 224), interpolation=cv2.INTER_AREA), (x, y, x + w, y + h)


def skimage_pipeline(image: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The same steps with scikit-image, at full resolution."""
    blurred = filters.gaussian(image, sigma=1.1, preserve_range=True)
    labels = skmeasure.label(blurred > filters.threshold_otsu(blurred), connectivity=2)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    rows, cols = ndimage.find_objects((labels == sizes.argmax()).astype(np.uint8))[0]
    crop = image[rows, cols]
    resized = transform.resize(crop, (224, 224), anti_aliasing=True, preserve_range=True)
    return resized.astype(image.dtype), (cols.start, rows.start, cols.stop, rows.stop)


def box_iou(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    width = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    ious = []
    for laterality, view in (("L", "CC"), ("R", "MLO")):
        case = screening_mammogram((4096, 3328), np.random.default_rng(args.seed), laterality=laterality,
                                   view=view, malignant=True)
        image = remove_markers(case.pixels)  # both pipelines start after marker removal
        ours = otsu_crop(image)
        _, cv_box = opencv_pipeline(image)
        _, sk_box = skimage_pipeline(image)
        ious.append((box_iou(ours.box, cv_box), box_iou(ours.box, sk_box)))
        print(f"{laterality}-{view}: histomammo box {ours.box}  OpenCV {cv_box}  scikit-image {sk_box}")
    print(f"image {image.shape} {image.dtype}; box IoU vs OpenCV full resolution: "
          f"{min(i[0] for i in ious):.4f} (min of 2 images), vs scikit-image: {min(i[1] for i in ious):.4f}")
    floor = measure("image.copy() (memory floor)", image.copy, repeats=args.repeats)
    timing_ours = measure("histomammo otsu_crop", lambda: otsu_crop(image), repeats=args.repeats)
    timing_cv = measure("OpenCV pipeline (thesis)", lambda: opencv_pipeline(image), repeats=args.repeats)
    timing_sk = measure("scikit-image pipeline", lambda: skimage_pipeline(image), repeats=max(2, args.repeats // 2))
    for timing in (floor, timing_ours, timing_cv, timing_sk):
        report(timing)
    print_ratio(timing_ours, timing_cv, "OpenCV")
    print_ratio(timing_ours, timing_sk, "scikit-image")
    print(f"histomammo time / image.copy() time: {timing_ours.min_s / floor.min_s:.1f}")


if __name__ == "__main__":
    main()

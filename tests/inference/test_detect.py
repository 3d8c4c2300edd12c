"""detect_slide: cells cut by tile borders reported once; write_geojson."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile
import torch
from scipy import ndimage
from torch import nn

from histomammo.errors import DataFormatError
from histomammo.inference import detect_slide, write_geojson
from histomammo.inference._tiles import grid_starts
from histomammo.io import TiffImage


class BlobDetector(nn.Module):
    """Dark blobs as boxes: label 1 for blue-ish blobs, 2 for red-ish; score from darkness.

    Deterministic and exact, so tiling is the only thing under test.
    """

    def forward(self, images):
        out = []
        for image in images:
            x = image.numpy()
            found, _ = ndimage.label(x.mean(0) < 0.5)
            boxes, scores, labels = [], [], []
            for index, (rows, cols) in enumerate(ndimage.find_objects(found), start=1):
                boxes.append([cols.start, rows.start, cols.stop, rows.stop])
                inside = found[rows, cols] == index
                scores.append(1 - x[:, rows, cols].mean(0)[inside].mean())
                labels.append(1 if x[2, rows, cols][inside].mean() > x[0, rows, cols][inside].mean()
                              else 2)
            out.append({"boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                        "scores": torch.tensor(scores, dtype=torch.float32),
                        "labels": torch.tensor(labels, dtype=torch.int64)})
        return out


def cells_image(rng, shape=(400, 560), count=80, radius=(4, 12)):
    """White image with dark discs (blue or red), many straddling any tile grid."""
    image = np.full((*shape, 3), 255, np.uint8)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    placed = []
    while len(placed) < count:
        r = rng.integers(*radius)
        y, x = rng.integers(r + 1, shape[0] - r - 1), rng.integers(r + 1, shape[1] - r - 1)
        if any(np.hypot(y - py, x - px) < r + pr + 3 for py, px, pr in placed):
            continue
        placed.append((y, x, r))
        image[np.hypot(yy - y, xx - x) <= r] = (30, 20, 120) if rng.random() < 0.5 else (120, 20, 30)
    return image


def test_matches_whole_image(rng):
    image = cells_image(rng)
    tensor = torch.from_numpy(image).permute(2, 0, 1).float() / 255
    whole = BlobDetector()([tensor])[0]
    tiled = detect_slide(BlobDetector(), image, patch_size=(96, 128), overlap=32, tissue=None,
                         score_threshold=0.0, progress=False)
    assert len(tiled["boxes"]) == len(whole["boxes"]) == 80
    order = np.lexsort(whole["boxes"].numpy().T[::-1])
    mine = np.lexsort(tiled["boxes"].T[::-1])
    np.testing.assert_allclose(tiled["boxes"][mine], whole["boxes"].numpy()[order], atol=1)
    assert np.array_equal(tiled["labels"][mine], whole["labels"].numpy()[order])
    # the tiles' own detections, pooled, hold duplicates and cut boxes of the straddling cells
    starts = [grid_starts(n, p, p - 32, flush=True)
              for n, p in ((400, 96), (560, 128))]
    pooled = sum(len(BlobDetector()([tensor[:, y : y + 96, x : x + 128]])[0]["boxes"])
                 for y in starts[0] for x in starts[1])
    assert pooled > 100


def test_level_zero_coordinates(tmp_path, rng):
    image = cells_image(rng, (256, 256), 12)
    with tifffile.TiffWriter(tmp_path / "cells.tif") as tif:
        tif.write(image, tile=(64, 64), subifds=1, photometric="rgb")
        tif.write(image[::2, ::2], tile=(64, 64), subfiletype=1, photometric="rgb")
    with TiffImage(tmp_path / "cells.tif") as slide:
        at_level1 = detect_slide(BlobDetector(), slide, level=1, patch_size=64, overlap=24,
                                 tissue=None, progress=False)
    small = detect_slide(BlobDetector(), image[::2, ::2], patch_size=64, overlap=24,
                         tissue=None, progress=False)
    assert at_level1["boxes"].dtype == np.float32 and at_level1["labels"].dtype == np.int64
    assert np.array_equal(at_level1["boxes"], 2 * small["boxes"])  # level-0 pixels
    assert np.all(np.diff(at_level1["scores"]) <= 0)


def test_geojson(tmp_path, rng):
    found = detect_slide(BlobDetector(), cells_image(rng, (128, 128), 5), patch_size=64,
                         overlap=24, tissue=None, progress=False)
    path = write_geojson(found, tmp_path / "cells.geojson", class_names={1: "blue", 2: "red"})
    data = json.loads(path.read_text())
    assert data["type"] == "FeatureCollection" and len(data["features"]) == 5
    ring = data["features"][0]["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) == 5
    x1, y1, x2, y2 = found["boxes"][0].tolist()
    assert ring[2] == [x2, y2] and data["features"][0]["properties"]["objectType"] == "detection"


def test_exception(rng):
    image = cells_image(rng, (128, 128), 3)
    with pytest.raises(DataFormatError, match="detect_slide expects torchvision's list"):
        detect_slide(nn.Identity(), image, patch_size=64, overlap=8, tissue=None, progress=False)
    with pytest.raises(DataFormatError, match="smaller than the"):
        detect_slide(BlobDetector(), image, progress=False)
    with pytest.warns(UserWarning, match="no patch holds enough tissue"):
        none = detect_slide(BlobDetector(), np.full((128, 128, 3), 250, np.uint8), patch_size=64,
                            overlap=8, progress=False)
    assert none["boxes"].shape == (0, 4)

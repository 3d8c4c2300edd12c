"""histomammo.datasets.image_folder: ImageFolder layout, labels, resumability."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.datasets import ImageFolder

from histomammo.datasets import PCam, export_image_folder
from histomammo.datasets.synthetic import make_pcam


@pytest.fixture(scope="module")
def pcam(tmp_path_factory):
    root = make_pcam(tmp_path_factory.mktemp("pcam"), 12, seed=1, splits=["train"],
                     progress=False)
    return PCam(root, "train")


def test_layout_and_pixels(pcam, tmp_path):
    folder = export_image_folder(pcam, tmp_path, batch_size=5, workers=2, progress=False)
    assert folder == tmp_path / "train"
    images = ImageFolder(folder)
    assert images.class_to_idx == {"normal": 0, "tumor": 1}
    assert len(images) == 12
    for path, label in images.samples:
        index = int(path.rsplit("/", 1)[1][:-4])
        assert label == pcam.targets[index]
        np.testing.assert_array_equal(np.asarray(Image.open(path)),
                                      pcam[index][0].permute(1, 2, 0).numpy())


def test_resumes_and_leaves_no_temporary_files(pcam, tmp_path):
    folder = export_image_folder(pcam, tmp_path, progress=False)
    files = sorted(folder.rglob("*.png"))
    kept, removed = files[0], files[1]
    removed.unlink()
    stamp = kept.stat().st_mtime_ns
    export_image_folder(pcam, tmp_path, progress=False)
    assert removed.exists() and kept.stat().st_mtime_ns == stamp  # only the missing one
    assert sorted(folder.rglob("*.png")) == files
    assert not [p for p in folder.rglob("*") if p.name.startswith(".")]


def test_bad_input(tmp_path):
    float_images = [(torch.zeros(3, 4, 4), 0)]
    with pytest.raises(TypeError, match="uint8"):
        export_image_folder(float_images, tmp_path, split="x", progress=False)
    with pytest.raises(ValueError, match="label 2"):
        export_image_folder([(torch.zeros(3, 4, 4, dtype=torch.uint8), 2)], tmp_path,
                            split="x", progress=False)
    with pytest.raises(ValueError, match="split="):
        export_image_folder([], tmp_path, progress=False)

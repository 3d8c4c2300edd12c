"""NormalizeStain and HEDJitter inside the library's dataset pipelines: GlaS, PCam, SlidePatches."""

from __future__ import annotations

import numpy as np
import torch
from torchvision.transforms import v2

from histomammo.io import TiffImage
from histomammo.transforms.patches.slide import SlidePatches
from histomammo.transforms.stain import HEDJitter, NormalizeStain, StainNormalizer


def normalizer(method: str) -> StainNormalizer:
    return StainNormalizer(method, generator=torch.Generator().manual_seed(0))


def test_in_a_glas_dataset(tmp_path, ihc):
    from histomammo.datasets.glas import GlaS
    from histomammo.datasets.synthetic.glas import make_glas

    make_glas(tmp_path, counts={"train": 2, "testA": 0, "testB": 0}, size=(96, 128))
    dataset = GlaS(tmp_path, "train", transforms=NormalizeStain(normalizer("reinhard").fit(ihc)))
    plain = GlaS(tmp_path, "train")
    image, target = dataset[0]
    raw, raw_target = plain[0]
    assert image.shape == raw.shape and not torch.equal(image, raw)
    assert torch.equal(target["masks"], raw_target["masks"])


def test_in_a_pcam_dataset(tmp_path, ihc):
    from histomammo.datasets.pcam import PCam
    from histomammo.datasets.synthetic import make_pcam

    make_pcam(tmp_path, {"valid": 8}, splits=["valid"])
    pipeline = v2.Compose([NormalizeStain(normalizer("macenko").fit(ihc)),
                           HEDJitter(generator=torch.Generator().manual_seed(0)),
                           v2.ToDtype(torch.float32, scale=True)])
    images = [PCam(tmp_path, "valid", transform=pipeline)[i][0] for i in range(8)]
    assert all(image.shape == (3, 96, 96) and torch.isfinite(image).all() for image in images)


def test_in_slide_patches_with_one_source_matrix(tmp_path, ihc):
    """A slide's stain estimated once from its tissue patches, reused for each patch."""
    from histomammo.datasets.synthetic import make_slide

    slide = make_slide(tmp_path / "s.tif", (512, 768), levels=2)
    image = TiffImage(slide.path)
    plain = SlidePatches(image, 96, tissue_mask="saturation", min_tissue=0.5)
    fitted = normalizer("macenko").fit(ihc).fit_source([plain[i][0] for i in range(len(plain))])
    patches = SlidePatches(image, 96, tissue_mask="saturation", min_tissue=0.5,
                           transform=NormalizeStain(fitted))
    first, raw = patches[0][0], plain[0][0]
    assert first.dtype == torch.uint8 and first.shape == raw.shape and not torch.equal(first, raw)
    np.testing.assert_array_equal(first.numpy(), fitted.transform(raw.as_subclass(torch.Tensor)).numpy())

"""The histology systems' optional stain step: off by default (the papers used none), a fitted
normaliser first on every split when given, a stain augmentation on training data only."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision import tv_tensors

from histomammo.datasets import BreCaHAD, PCam
from histomammo.datasets.synthetic import make_brecahad, make_pcam
from histomammo.systems import brecahad, glas, pcam
from histomammo.systems._stain import stain_steps
from histomammo.transforms.stain import HEDJitter, NormalizeStain, StainNormalizer


@pytest.fixture(scope="module")
def patches(tmp_path_factory):
    root = make_pcam(tmp_path_factory.mktemp("pcam"), 8, splits=["test"], progress=False,
                     stain="purple")
    return [PCam(root, "test")[i][0] for i in range(8)]


@pytest.fixture(scope="module")
def normalizer(tmp_path_factory):
    target = make_pcam(tmp_path_factory.mktemp("target"), 8, splits=["test"], progress=False)
    images = np.stack([PCam(target, "test")[i][0].permute(1, 2, 0).numpy() for i in range(8)])
    return StainNormalizer("macenko").fit(images)


def test_off_by_default():
    assert stain_steps() == []
    assert not any(isinstance(s, NormalizeStain) for s in pcam.patch_transform().transforms)


def test_jitter_only_in_training():
    jitter = HEDJitter()
    assert stain_steps(stain_jitter=jitter, train=True) == [jitter]
    assert stain_steps(stain_jitter=jitter, train=False) == []
    steps = glas.unet_input_transforms(train=False, size=32, stain_jitter=jitter).transforms
    assert jitter not in steps
    assert jitter in glas.maskrcnn_input_transforms(train=True, stain_jitter=jitter).transforms


def test_pcam_and_glas_normalise_first(patches, normalizer):
    plain, stained = pcam.patch_transform(), pcam.patch_transform(stain=normalizer)
    image = patches[0]
    expected = normalizer.transform(image)  # the normaliser itself, on the uint8 image
    assert torch.allclose(stained(image), plain(tv_tensors.Image(expected)))
    assert not torch.allclose(stained(image), plain(image))
    unet = glas.unet_input_transforms(train=False, size=32, stain=normalizer)
    assert isinstance(unet.transforms[0], NormalizeStain)


def test_brecahad_splits_take_the_stain_step(tmp_path, normalizer):
    root = make_brecahad(tmp_path, n_cases=3, images_per_case=1, size=(256, 340))
    options = dict(patch_size=(256, 340), image_size=None)
    plain = brecahad.load_splits(root, **options)
    stained = brecahad.load_splits(root, stain=normalizer, stain_jitter=HEDJitter(), **options)
    assert isinstance(stained["test"], BreCaHAD)
    a, b = plain["test"][0][0], stained["test"][0][0]
    assert a.dtype == b.dtype == torch.float32 and not torch.equal(a, b)
    train_steps = stained["train"].transforms.transforms
    assert isinstance(train_steps[0], NormalizeStain) and isinstance(train_steps[1], HEDJitter)
    assert not any(isinstance(s, HEDJitter) for s in stained["test"].transforms.transforms)

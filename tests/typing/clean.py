"""A user's script using the public API correctly, both import styles: mypy --strict must
report nothing, and every name must come back with its real type, not ``Any``
(``assert_type`` fails on ``Any``). Type-checked by ``tests/typing/test_typing.py``, never run.
"""

from __future__ import annotations

from pathlib import Path
from typing import assert_type

import torch

import histomammo
from histomammo.datasets import GlaS
from histomammo.engine import Trainer
from histomammo.io import DicomImage, TiffImage, read_dicom
from histomammo.metrics import roc_auc
from histomammo.models import UNet, unet


def train(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
    trainer = Trainer(model, optimizer, checkpoint_dir="runs", seed=0)
    assert_type(trainer, Trainer)
    assert_type(trainer.epoch, int)
    also = histomammo.engine.Trainer(model, optimizer, accumulate=2)
    assert_type(also, Trainer)


def read() -> None:
    image = read_dicom("a.dcm", invert=False)
    assert_type(image, DicomImage)
    assert_type(histomammo.io.read_dicom(Path("a.dcm")), DicomImage)
    assert_type(TiffImage("slide.tif", series=0), histomammo.io.TiffImage)


def data_and_models() -> None:
    data = GlaS("glas", split="testA", target="semantic")
    assert_type(len(data), int)
    assert_type(histomammo.datasets.GlaS("glas"), GlaS)
    assert_type(unet(num_classes=2, base_channels=8, depth=2), UNet)
    assert_type(histomammo.models.unet(in_channels=1), histomammo.models.UNet)
    assert_type(roc_auc([0.1, 0.9], [0, 1]), float)
    assert_type(histomammo.metrics.pixel_dice([], []), float)
    assert_type(histomammo.__version__, str)

"""A user's script importing names from the packages, with seeded mistakes.

mypy must report exactly the lines marked ``# E: <code>`` (``tests/typing/test_typing.py``);
the script is type-checked, never run.
"""

from __future__ import annotations

import torch

from histomammo.datasets import GlaS
from histomammo.engine import Trainer
from histomammo.io import TiffImage, read_dicom
from histomammo.metrics import roc_auc
from histomammo.models import unet


def train(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
    Trainer(model, optimizer, None, epochs=3, checkpoint="runs")  # E: call-arg call-arg
    trainer = Trainer(model, optimizer, checkpoint_dir="runs")
    print(trainer.histroy)  # E: attr-defined


def read() -> None:
    image = read_dicom("a.dcm", invert="yes")  # E: arg-type
    print(image.pixelz)  # E: attr-defined
    slide = TiffImage("slide.tif", series="0")  # E: arg-type
    print(slide.levls)  # E: attr-defined


def data_and_models() -> None:
    GlaS("glas", splt="train")  # E: call-arg
    GlaS("glas", split="validation")  # E: arg-type
    unet(num_class=2)  # E: call-arg
    unet(2)  # E: call-arg
    auc: str = roc_auc([0.1, 0.9], [0, 1])  # E: assignment
    roc_auc([0.1, 0.9], [0, 1], from_logit=True)  # E: call-arg
    print(auc)

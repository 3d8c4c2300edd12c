"""A user's script reaching every name through ``import histomammo``, with seeded mistakes.

mypy must report exactly the lines marked ``# E: <code>`` (``tests/typing/test_typing.py``);
the script is type-checked, never run.
"""

from __future__ import annotations

import torch

import histomammo


def train(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
    histomammo.engine.Trainer(model, optimizer, epochs=3)  # E: call-arg
    stop = histomammo.engine.callbacks.EarlyStopping(monitor="val_loss")
    trainer = histomammo.engine.Trainer(model, optimizer, callbacks=[stop])
    print(trainer.fitt)  # E: attr-defined


def read() -> None:
    image = histomammo.io.read_dicom("a.dcm", invert="yes")  # E: arg-type
    print(image.pixelz)  # E: attr-defined
    print(histomammo.io.dicom.read_dicom("a.dcm").pixels.shape)


def data_and_models() -> None:
    histomammo.datasets.GlaS("glas", splt="train")  # E: call-arg
    histomammo.models.unet(num_class=2)  # E: call-arg
    histomammo.metrics.pixel_dice([], [], smooth=1.0)  # E: call-arg
    histomammo.transforms.stain.StainNormalizer(methd="macenko")  # E: call-arg
    print(histomammo.nope)  # E: attr-defined

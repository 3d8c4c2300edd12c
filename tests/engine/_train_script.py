"""A small, fully seeded training run that the resume tests kill and restart.

Run as a script it trains into ``--dir`` and, when asked, SIGKILLs itself:

* ``--kill-step K``: in ``on_batch_end`` at global step K (before that step's periodic
  checkpoint, so the newest checkpoint on disk is an older one);
* ``--kill-epoch-start E``: in ``on_epoch_start`` of epoch E (just after the end-of-epoch
  checkpoint of epoch E-1);
* ``--kill-replace N``: inside the N-th ``os.replace`` of a checkpoint file, i.e. after the
  temporary file is written and fsynced but before it is renamed.

The data draw from python's, numpy's and torch's global generators (noise added in
``__getitem__``) and the model has dropout, so an exact resume must restore all of them.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from histomammo.engine import Trainer
from histomammo.engine.callbacks import Callback

SAMPLES, BATCH, EPOCHS = 80, 4, 3  # 20 optimizer steps per epoch


class NoisyDataset(Dataset):
    """Fixed features plus noise from all three global generators."""

    def __init__(self) -> None:
        generator = torch.Generator().manual_seed(1234)
        self.features = torch.randn(SAMPLES, 8, generator=generator)
        self.labels = (self.features[:, 0] > 0).long()

    def __len__(self) -> int:
        return SAMPLES

    def __getitem__(self, index: int):
        noise = 0.05 * torch.randn(8) + 0.01 * float(np.random.rand()) + 0.01 * random.random()  # noqa: NPY002
        return self.features[index] + noise, self.labels[index]


class Interrupted(Exception):
    """Raised by ``KillAt(..., sigkill=False)`` to stop a run inside the test process."""


class KillAt(Callback):
    """SIGKILLs the process (or raises Interrupted) at a global step or epoch start."""

    def __init__(self, step: int | None = None, epoch_start: int | None = None,
                 sigkill: bool = True) -> None:
        self.step = step
        self.epoch_start = epoch_start
        self.sigkill = sigkill

    def _die(self) -> None:
        if self.sigkill:
            os.kill(os.getpid(), signal.SIGKILL)
        raise Interrupted

    def on_epoch_start(self, trainer, epoch: int) -> None:
        if epoch == self.epoch_start:
            self._die()

    def on_batch_end(self, trainer, logs) -> None:
        if trainer.global_step == self.step:
            self._die()


def kill_inside_replace(nth: int) -> None:
    """Make the ``nth`` rename of a checkpoint file kill the process before it happens."""
    real_replace = os.replace
    calls = {"count": 0}

    def replace(source, destination, *args, **kwargs):
        if re.match(r"checkpoint-\d+\.pt$", Path(destination).name):
            calls["count"] += 1
            if calls["count"] == nth:
                os.kill(os.getpid(), signal.SIGKILL)
        return real_replace(source, destination, *args, **kwargs)

    os.replace = replace


def make_trainer(checkpoint_dir, checkpoint_every=None, kill: KillAt | None = None,
                 amp: bool = False, accumulate: int = 1, scheduler_step: str = "epoch"):
    """The run's trainer: a dropout MLP, Adam, StepLR, seed 7."""
    torch.manual_seed(0)  # model initialisation, identical in every run
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    step_size = 1 if scheduler_step == "epoch" else 20
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=0.5)
    return Trainer(
        model, optimizer, nn.CrossEntropyLoss(), scheduler=scheduler,
        scheduler_step=scheduler_step, device="cpu", amp=amp, accumulate=accumulate, seed=7,
        checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every, keep_last=2,
        callbacks=[kill or KillAt()], progress=False,
    )


def loaders() -> tuple[DataLoader, DataLoader]:
    data = NoisyDataset()
    return (DataLoader(data, batch_size=BATCH, shuffle=True),
            DataLoader(data, batch_size=16, shuffle=False))


def train(trainer: Trainer, epochs: int = EPOCHS) -> list[dict]:
    train_loader, val_loader = loaders()
    return trainer.fit(train_loader, epochs, val_loader=val_loader)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--every", type=int, default=None)
    parser.add_argument("--kill-step", type=int, default=None)
    parser.add_argument("--kill-epoch-start", type=int, default=None)
    parser.add_argument("--kill-replace", type=int, default=None)
    parser.add_argument("--accumulate", type=int, default=1)
    parser.add_argument("--scheduler-step", default="epoch")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # as in the tests' in-process runs: tiny ops, no contention
    if args.kill_replace is not None:
        kill_inside_replace(args.kill_replace)
    trainer = make_trainer(
        args.dir, args.every, KillAt(args.kill_step, args.kill_epoch_start),
        accumulate=args.accumulate, scheduler_step=args.scheduler_step,
    )
    train(trainer)


if __name__ == "__main__":
    main(sys.argv[1:])

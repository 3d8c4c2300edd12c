"""One rank of a CPU/gloo DDP run (RANK, WORLD_SIZE, ... come from the environment).

Also importable: :func:`run` trains the same configurations in a single process.

Three configurations share one process group: per-rank batch 4 (global 8); per-rank
batch 2 with ``accumulate=2`` (global 8 per optimizer step, exercising ``no_sync``); and
batch 4 with the first layer frozen in epoch 0 and trainable in epoch 1 (DDP re-wrapped). For
each, the final weights, the history and the predictions on a 13-sample loader (not a
multiple of the world size) are saved by rank 0 to ``OUT/<name>.pt``. Every call of
``checkpoint.save_checkpoint`` appends the caller's rank to ``OUT/writers.txt``.

Then :func:`rank_checks` saves, per rank, ``OUT/rank-<r>.pt``: a run in which only rank 1
asks to stop (both must stop together), the evaluation of the 13-sample loader (sharded
by the engine) and of the same loader with the user's own ``DistributedSampler``, and
the weights after training on an IterableDataset whose last accumulation group is short.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, IterableDataset, TensorDataset

from histomammo.engine import Trainer, distributed
from histomammo.engine import checkpoint as checkpoint_module
from histomammo.engine.callbacks import Callback

GLOBAL_BATCH = 8
# name: (global batch per micro-batch, accumulate, first layer frozen in epoch 0)
CONFIGS = {
    "plain": (GLOBAL_BATCH, 1, False),
    "accumulate": (GLOBAL_BATCH // 2, 2, False),
    "unfreeze": (GLOBAL_BATCH, 1, True),
}


class UnfreezeFirstLayerAtEpoch1(Callback):
    """Trainable parameters change between epochs: DDP must be rebuilt to sync them."""

    def on_epoch_start(self, trainer, epoch: int) -> None:
        for parameter in trainer.model[0].parameters():
            parameter.requires_grad_(epoch >= 1)


def datasets() -> tuple[TensorDataset, TensorDataset, TensorDataset]:
    generator = torch.Generator().manual_seed(5)
    x = torch.randn(64, 6, generator=generator)
    y = x @ torch.randn(6, 1, generator=generator) + 0.1 * torch.randn(64, 1, generator=generator)
    return TensorDataset(x, y), TensorDataset(x[:14], y[:14]), TensorDataset(x[:13], y[:13])


def mean_absolute_error(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    return float((outputs - targets).abs().mean())


def run(name: str, world_size: int, checkpoint_dir) -> dict:
    """Train configuration ``name`` with per-process batch ``global / world_size``."""
    batch, accumulate, frozen_first = CONFIGS[name]
    train, val, test = datasets()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 1))
    trainer = Trainer(
        model, torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9), nn.MSELoss(),
        device="cpu", accumulate=accumulate, seed=3, checkpoint_dir=checkpoint_dir,
        callbacks=[UnfreezeFirstLayerAtEpoch1()] if frozen_first else [], progress=False,
    )
    history = trainer.fit(
        DataLoader(train, batch_size=batch // world_size, shuffle=True), epochs=2,
        val_loader=DataLoader(val, batch_size=4), metrics={"mae": mean_absolute_error},
    )
    return {
        "weights": model.state_dict(),
        "history": history,
        "predictions": trainer.predict(DataLoader(test, batch_size=3)),
    }


class StopOnRankOne(Callback):
    """A stop decision taken by one rank alone: every rank must stop with it."""

    def on_epoch_end(self, trainer, logs) -> None:
        if distributed.get_rank() == 1:
            trainer.stop_training = True


class RankStream(IterableDataset):
    """This rank's half of 12 samples as a stream: 3 micro-batches of 2 per rank."""

    def __init__(self, data: TensorDataset) -> None:
        self.data = data

    def __iter__(self):
        rank, world = distributed.get_rank(), distributed.get_world_size()
        return (self.data[i] for i in range(rank, 12, world))


def count(outputs: torch.Tensor, targets: torch.Tensor) -> int:
    return len(outputs)


def fresh_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 1))


def rank_checks(out: Path) -> None:
    train, _, test = datasets()
    model = fresh_model()
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.05), nn.MSELoss(),
                      device="cpu", seed=3, callbacks=[StopOnRankOne()], progress=False)
    history = trainer.fit(DataLoader(train, batch_size=4, shuffle=True), epochs=3)
    metrics = {"mae": mean_absolute_error, "count": count}
    plain = trainer.evaluate(DataLoader(test, batch_size=3), metrics)
    own = trainer.evaluate(DataLoader(test, batch_size=3,
                                      sampler=DistributedSampler(test, shuffle=False)), metrics)
    streamed = fresh_model()
    stream_trainer = Trainer(streamed, torch.optim.SGD(streamed.parameters(), lr=0.1),
                             nn.MSELoss(), device="cpu", seed=3, accumulate=2, progress=False)
    stream_trainer.fit(DataLoader(RankStream(train), batch_size=2), epochs=1)
    torch.save({"epochs": len(history), "weights": model.state_dict(), "plain": plain,
                "own": own, "streamed": streamed.state_dict()},
               out / f"rank-{distributed.get_rank()}.pt")


def main(out: Path) -> None:
    torch.set_num_threads(1)
    real_save = checkpoint_module.save_checkpoint

    def recording_save(path, state):
        with open(out / "writers.txt", "a") as log:
            log.write(f"{distributed.get_rank()}\n")
        return real_save(path, state)

    checkpoint_module.save_checkpoint = recording_save
    for name in CONFIGS:
        result = run(name, int(os.environ["WORLD_SIZE"]), out / name)
        if distributed.is_main_process():
            torch.save(result, out / f"{name}.pt")
    rank_checks(out)
    distributed.cleanup()


if __name__ == "__main__":
    main(Path(sys.argv[1]))

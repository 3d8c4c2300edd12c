"""The PCam G-CNN workflow: a P4M G-CNN learns synthetic PCam, exports, and is invariant.

It writes synthetic PatchCamelyon, trains a small P4M G-CNN with the engine (the recipe of
[`gcnn_learning`][histomammo.systems.pcam.gcnn_learning], patches downscaled to 32x32 for the CPU),
scores the held-out patches by their tumour probability, exports the model to plain torch and
checks that the exported logits equal the model's and do not change when a patch is rotated or
mirrored; the results sit beside the seed's published numbers in ``results.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from histomammo._atomic import atomic_write
from histomammo.datasets import PCam
from histomammo.datasets.synthetic import make_pcam
from histomammo.engine import Trainer
from histomammo.systems.pcam._augment import patch_transform
from histomammo.systems.pcam._published import PUBLISHED
from histomammo.systems.pcam._recipe import gcnn_learning, pcam_metrics

__all__ = ["gcnn_run"]


def _invariance(model: torch.nn.Module, images: torch.Tensor) -> float:
    """Largest logit change over the 90/180/270-degree turns and the mirror images."""
    with torch.no_grad():
        y = model(images)
        turned = [torch.rot90(images, k, dims=(2, 3)) for k in range(4)]
        variants = turned[1:] + [t.flip(3) for t in turned]
        return max(float((model(v) - y).abs().max()) for v in variants)


def gcnn_run(out: Path, seed: int = 0, *, n: int = 128, epochs: int = 3, device: str = "cpu",
             amp: bool = False, channels_last: bool = False) -> dict[str, Any]:
    """Train, evaluate and export a small P4M G-CNN on synthetic PCam (the demo stage).

    Parameters
    ----------
    out : Path
        Output folder (the synthetic data, checkpoints and ``results.json``).
    seed : int
        Seed of every random draw.
    n : int
        Synthetic patches per split (train and test).
    epochs : int
    device, amp, channels_last
        Where and how to train (the Trainer's ``device`` and ``amp``; channels-last weights).

    Returns
    -------
    dict
        ``{"auc", "accuracy", "auc_before", "parameters", "export_max_difference",
        "invariance_max_change", "published"}``.
    """
    out = Path(out)
    root = make_pcam(out / "pcam", {"train": n, "test": n}, splits=["train", "test"],
                     seed=seed, progress=False)
    transform = patch_transform(mean=(0.5,) * 3, std=(0.25,) * 3, size=32)
    train = DataLoader(PCam(root, "train", transform=transform), batch_size=32, shuffle=True)
    test = DataLoader(PCam(root, "test", transform=transform), batch_size=128)
    torch.manual_seed(seed)
    from histomammo.models.equivariant import gcnn  # imports e2cnn: only when run

    model = gcnn(group="p4m", widths=(2, 4, 4), hidden=32)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    recipe = gcnn_learning(model, epochs=epochs, lr=3e-3)
    trainer = Trainer.from_recipe(model, recipe, device=device, amp=amp, seed=seed,
                                  checkpoint_dir=out / "checkpoints", progress=False)
    before = trainer.evaluate(test, metrics=pcam_metrics())
    trainer.fit(train, recipe.epochs)
    after = trainer.evaluate(test, metrics=pcam_metrics())
    model.eval()
    exported = model.export()
    images = next(iter(test))[0][:16].to(trainer.device)
    with torch.no_grad():
        difference = float((exported(images) - model(images)).abs().max())
    results = {
        "auc": after["auc"], "accuracy": after["accuracy"], "auc_before": before["auc"],
        "parameters": sum(p.numel() for p in model.parameters()),
        "export_max_difference": difference,
        "invariance_max_change": _invariance(exported, images),
        "published": list(PUBLISHED),
    }
    with atomic_write(out / "results.json", "w") as f:
        json.dump(results, f, indent=2)
    return results

"""Shen et al.'s workflow: CBIS-DDSM -> S10 patches -> patch classifier -> whole-image classifier.

Synthetic CBIS-DDSM tree (or ``root`` for the real one) -> patches around the ROI masks and
from the background -> a patch classifier ([`patch_recipe`][histomammo.systems.shen.patch_recipe])
-> the whole-image classifier built on it, with and without the heatmap
([`whole_image_recipe`][histomammo.systems.shen.whole_image_recipe]) -> test AUC.
``examples/mammo_patch_to_whole.py`` runs it at full size; the demo stage ``mammo_models`` short.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from histomammo.datasets import CBISDDSM
from histomammo.datasets.synthetic import make_cbis_ddsm
from histomammo.engine import Recipe, Trainer
from histomammo.metrics.classification import roc_auc, roc_curve
from histomammo.models import PatchToImageClassifier, create_model
from histomammo.plot import plot_roc, plot_training_curves
from histomammo.systems._mammo import predict_scores, save_closed, stored_to_unit, synthetic_root
from histomammo.systems.shen._recipe import patch_recipe, whole_image_recipe
from histomammo.transforms.patches import lesion_patches, patch_class

__all__ = ["patch_to_whole_run"]


def _patch_set(data: CBISDDSM, size: int, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
    patches, labels = [], []
    for index, record in enumerate(data.records):
        image = data[index][0][0].numpy()
        # a mis-sized ROI mask of the release (flagged in data.problems) cannot place a
        # patch: its abnormality is left out
        kept = [(mask, patch_class(a["type"], a["pathology"])) for mask, a
                in zip(data.roi_masks(index), record.extra["abnormalities"], strict=True)
                if mask.shape == image.shape]
        cut = lesion_patches(image, [m for m, _ in kept], [c for _, c in kept], n_per_roi=10,
                             n_background=10, size=size, rng=rng)
        patches.append(stored_to_unit(cut.patches, record.path))
        labels.append(cut.labels)
    return torch.from_numpy(np.concatenate(patches))[:, None], torch.from_numpy(
        np.concatenate(labels))


def _images(data: CBISDDSM) -> tuple[torch.Tensor, torch.Tensor]:
    x = np.stack([stored_to_unit(data[i][0].numpy(), r.path) for i, r in enumerate(data.records)])
    return torch.from_numpy(x), torch.tensor([r.label for r in data.records])


def _fit(model: torch.nn.Module, recipe: Recipe, x: torch.Tensor, y: torch.Tensor, seed: int,
         **trainer_options: Any) -> list[dict[str, Any]]:
    trainer = Trainer.from_recipe(model, recipe, seed=seed, progress=False, **trainer_options)
    trainer.fit(DataLoader(TensorDataset(x, y), batch_size=recipe.batch_size, shuffle=True),
                epochs=recipe.epochs)
    return trainer.history


def patch_to_whole_run(out: Path, seed: int = 0, *, root: Path | None = None,
                       n_patients: int = 24, shape: tuple[int, int] = (128, 104),
                       patch_size: int = 32, patch_epochs: Sequence[int] = (1, 2, 5),
                       image_epochs: Sequence[int] = (2, 3), width: float = 0.125,
                       top_blocks: Sequence[tuple[tuple[int, int, int], int]] = (
                           ((8, 8, 32), 1), ((8, 8, 32), 1)), device: str = "auto",
                       amp: bool = False, channels_last: bool = False) -> dict[str, Any]:
    """Shen et al.'s pipeline; synthetic CBIS-DDSM-shaped data unless ``root`` is given.

    The patch classifier is randomly initialised, so it trains the paper's constant 1e-3 on
    all layers (one stage); the whole-image classifier's two stages run at 1e-3 and 1e-4
    (the paper's 1e-4 and 1e-5 fine-tune pretrained weights). Returns the patch history,
    the number of patches and the test AUC with and without the heatmap; writes
    ``roc_patch_to_whole.png`` and ``patch_training.png``.
    """
    options = {"device": device, "amp": amp}
    out.mkdir(parents=True, exist_ok=True)
    if root is None:
        root = make_cbis_ddsm(synthetic_root(out, "cbis_ddsm"), n_patients=n_patients,
                              shape=shape, seed=seed, test_fraction=0.4)
    rng = np.random.default_rng(seed)
    # stored values scaled by their range, as the paper's 16-bit PNGs of the DICOMs were
    train, test = (CBISDDSM(root, split, abnormality="both", pixels="raw")
                   for split in ("train", "test"))
    patches, classes = _patch_set(train, patch_size, rng)
    mean = float(patches.mean())
    torch.manual_seed(seed)
    patch_net = _memory_format(create_model("vgg16_gap", width=width), channels_last)
    recipe = patch_recipe(patch_net, pretrained=False, epochs=patch_epochs)
    patch_history = _fit(patch_net, recipe, patches - mean, classes, seed, **options)
    (x_train, y_train), (x_test, y_test) = _images(train), _images(test)
    results: dict[str, Any] = {"patch_history": patch_history, "n_patches": len(classes)}
    curves = {}
    for heatmap in (False, True):
        torch.manual_seed(seed)
        model = _memory_format(PatchToImageClassifier(
            patch_net, top="resnet", top_blocks=top_blocks, heatmap=heatmap), channels_last)
        recipe = whole_image_recipe(model, epochs=image_epochs, lrs=(1e-3, 1e-4))
        _fit(model, recipe, x_train - mean, y_train, seed, **options)
        scores = predict_scores(model, x_test - mean)
        name = "with heatmap" if heatmap else "without heatmap"
        results[name] = {"test_auc": roc_auc(scores, y_test)}
        curves[name] = {**roc_curve(scores, y_test), "auc": results[name]["test_auc"]}
    save_closed(plot_roc(curves, title="whole-image classifier (test)"),
                out / "roc_patch_to_whole.png")
    save_closed(plot_training_curves(patch_history, keys=("loss",)), out / "patch_training.png")
    return results


def _memory_format(model: torch.nn.Module, channels_last: bool) -> torch.nn.Module:
    return model.to(memory_format=torch.channels_last) if channels_last else model

"""The paper's Faster R-CNN learns on synthetic BreCaHAD, trained with the engine and the recipe.

Faster R-CNN with its 115M-parameter fc6 is slow on CPU whatever the image size (the
optimizer step alone touches 144M parameters), so the default-suite test only checks that
a few steps on one small patch lower the loss and that one evaluation runs; the slow test
trains to a tumour recall >= 0.8 at a false-discovery rate <= 0.5 on held-out patches.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from histomammo.datasets.brecahad import BreCaHAD, collate_detection, paper_augmentation
from histomammo.datasets.synthetic import make_brecahad
from histomammo.engine import Trainer
from histomammo.engine.recipes.brecahad import brecahad_recipe
from histomammo.metrics.detection import detection_counts, rates_vs_threshold
from histomammo.models.detection import calibrate_frozen_batchnorm, fasterrcnn_brecahad

# CPU-sized heads: fewer sampled RoIs and proposals (the paper's architecture is unchanged)
_SMALL_HEADS = dict(box_batch_size_per_image=32, rpn_batch_size_per_image=64,
                    rpn_pre_nms_top_n_test=300, rpn_post_nms_top_n_test=100)


def _data(tmp_path, split, **kwargs):
    root = tmp_path / "brecahad"
    if not root.exists():
        make_brecahad(root, n_cases=6, images_per_case=2, size=(192, 256), nuclei=(10, 14),
                      seed=3)
    return BreCaHAD(root, split, patch_size=(96, 128), image_size=None,
                    group_by_case=False, **kwargs)


def _detector(calibration_images):
    torch.manual_seed(0)
    model = fasterrcnn_brecahad(min_size=96, max_size=128, **_SMALL_HEADS)
    calibrate_frozen_batchnorm(model, calibration_images)
    return model


def test_learns_a_patch_and_evaluates(tmp_path):
    data = _data(tmp_path, "train", samples_per_image=1)
    index = next(i for i in range(len(data)) if len(data[i][1]["boxes"]) > 0)
    patch = torch.utils.data.Subset(data, [index])
    loader = DataLoader(patch, batch_size=1, collate_fn=collate_detection)
    model = _detector([data[index][0]])
    recipe = brecahad_recipe(model)
    trainer = Trainer(model, recipe["optimizer"], None, device="cpu", progress=False)
    before = trainer.evaluate(loader)["loss"]
    history = trainer.fit(loader, epochs=3)
    after = trainer.evaluate(loader, metrics={"recall": lambda out, tgt: detection_counts(
        out, tgt, threshold=0.05)["recall"]})
    losses = [row["loss"] for row in history]
    assert np.isfinite(losses).all()
    assert after["loss"] < before and losses[-1] < losses[0], (before, losses, after)
    assert 0.0 <= after["recall"] <= 1.0


def _operating_point(predictions, targets):
    """Best recall among thresholds whose false-discovery rate is at most 0.5."""
    rates = rates_vs_threshold(predictions, targets, label=1)
    ok = rates["fdr"] <= 0.5
    return float(rates["tpr"][ok].max()) if ok.any() else 0.0


@pytest.mark.slow
@pytest.mark.timeout(5400)
def test_reaches_tumour_recall(tmp_path):
    train = _data(tmp_path, "train", samples_per_image=2, transforms=paper_augmentation())
    test = _data(tmp_path, "test")
    model = _detector([train[i][0] for i in range(4)])
    recipe = brecahad_recipe(model, [train], lr=1e-4)  # a short CPU run: 5x the paper's rate
    trainer = Trainer(model, recipe["optimizer"], None, scheduler=recipe["scheduler"],
                      callbacks=recipe["callbacks"], device="cpu", progress=False)
    loader = DataLoader(train, batch_size=1, shuffle=True, collate_fn=collate_detection)
    test_loader = DataLoader(test, batch_size=2, collate_fn=collate_detection)
    targets = [test[i][1] for i in range(len(test))]
    before = _operating_point(trainer.predict(test_loader), targets)
    # Measured (2 CPU cores): recall at FDR <= 0.5 was 0.375 untrained, 0.625 after 4 and 6
    # epochs, 0.375 after 10 (train loss 2.36 -> 0.15): this test does NOT pass yet.
    for epochs in range(1, 11):
        history = trainer.fit(loader, epochs=epochs)
        print(f"epoch {epochs}: loss {history[-1]['loss']:.3f}", flush=True)
        if epochs in (6, 8):
            point = _operating_point(trainer.predict(test_loader), targets)
            print(f"  recall at FDR <= 0.5: {point:.3f}", flush=True)
    after = _operating_point(trainer.predict(test_loader), targets)
    print(f"tumour recall at FDR <= 0.5: {before:.3f} before, {after:.3f} after training")
    assert after >= 0.8 > before

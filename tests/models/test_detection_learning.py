"""The paper's Faster R-CNN learns on synthetic BreCaHAD, trained with the engine and the recipe.

Faster R-CNN with its 115M-parameter fc6 is slow on CPU whatever the image size (the
optimizer step alone touches 144M parameters), so the default-suite test only checks that
a few steps on one small patch lower the loss and that one evaluation runs; the slow test
trains to a tumour recall >= 0.8 at a false-discovery rate <= 0.5 on held-out patches
(see its docstring for what that took).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader
from torchvision.transforms import v2

from histomammo.datasets.brecahad import BreCaHAD, collate_detection
from histomammo.datasets.synthetic import make_brecahad
from histomammo.engine import Trainer
from histomammo.metrics.detection import detection_counts, rates_vs_threshold
from histomammo.models import calibrate_batchnorm, fasterrcnn_brecahad
from histomammo.postprocess import suppress_duplicates
from histomammo.systems.brecahad import (
    brecahad_recipe,
    evaluate_test,
    paper_augmentation,
    save_figures,
)

# CPU-sized heads: fewer sampled RoIs and proposals (the paper's architecture is unchanged)
_SMALL_HEADS = dict(box_batch_size_per_image=32, rpn_batch_size_per_image=64,
                    rpn_pre_nms_top_n_test=300, rpn_post_nms_top_n_test=100)
# BreCaHAD yields uint8 as stored; torchvision's detector takes float32 in [0, 1]
_TO_FLOAT = v2.ToDtype(torch.float32, scale=True)


def _data(tmp_path, split, **kwargs):
    root = tmp_path / "brecahad"
    if not root.exists():
        make_brecahad(root, n_cases=6, images_per_case=2, size=(192, 256), nuclei=(10, 14),
                      seed=3)
    return BreCaHAD(root, split, patch_size=(96, 128), image_size=None,
                    group_by_case=False, transforms=_TO_FLOAT, **kwargs)


def _detector(calibration_images):
    torch.manual_seed(0)
    model = fasterrcnn_brecahad(min_size=96, max_size=128, **_SMALL_HEADS)
    calibrate_batchnorm(model, calibration_images)
    return model


def test_learns_a_patch_and_evaluates(tmp_path):
    data = _data(tmp_path, "train", samples_per_image=1)
    index = next(i for i in range(len(data)) if len(data[i][1]["boxes"]) > 0)
    patch = torch.utils.data.Subset(data, [index])
    loader = DataLoader(patch, batch_size=1, collate_fn=collate_detection)
    model = _detector([data[index][0]])
    trainer = Trainer.from_recipe(model, brecahad_recipe(), device="cpu", progress=False)
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


def _learning_data(tmp_path):
    """40 synthetic images (34 train / 3 val / 3 test, exact ratio) with 16 tumour nuclei each.

    10 training images (the first version of this test) were memorised: the training loss
    fell to 0.15 while held-out results got worse. 34 images, one new random patch of each
    per epoch, give every optimizer step nuclei it has rarely seen.
    """
    root = make_brecahad(tmp_path / "learning", n_cases=20, images_per_case=2,
                         size=(192, 256), nuclei=(16, 14), seed=3)
    options = dict(patch_size=(96, 128), image_size=(192, 256), group_by_case=False)
    return (BreCaHAD(root, "train", samples_per_image=1,
                     transforms=v2.Compose([paper_augmentation(), _TO_FLOAT]), **options),
            BreCaHAD(root, "val", samples_per_image=2, transforms=_TO_FLOAT, **options),
            BreCaHAD(root, "test", transforms=_TO_FLOAT, **options))


@pytest.mark.slow
@pytest.mark.timeout(5400)
def test_reaches_tumour_recall(tmp_path):
    """Tumour recall >= 0.8 at FDR <= 0.5 on 30 held-out patches (116 tumour cells).

    Training is the paper's recipe (Adam, weight decay 5e-4, x0.98 per epoch, batch size 1,
    horizontal flips) for 2 epochs of 34 patches at lr 1e-4 (5x the paper's 2e-5: 68 steps
    instead of its 13,800), at a CPU-sized input (96 x 128, not interpolated: the 32 px
    boxes meet the 32 px anchors of FPN level "1"). The model keeps every setting of the
    paper, ``box_nms_thresh=0.8`` included.

    The rates are measured after ``suppress_duplicates`` (one detection per 16 px, half
    the box side; two synthetic tumour centres are at least 21 px apart). Diagnosis: each
    tumour nucleus is reported several times, by boxes a few pixels apart or nested, which
    the paper's NMS at IoU 0.8 keeps and its foreground IoU of 0.9 never trains against.
    After one epoch, at score 0.5: 116 true positives, 823 such duplicates, 5 detections of
    other nuclei and 176 of background; after two, 1,336 duplicates, 1 and 45 (a diagnostic
    run of this setting without the validation pass). Recall at FDR <= 0.5 from the raw
    output: 0.33 after one epoch there, 0.13 after two here (printed); NMS at IoU 0.5 instead
    of the suppression gave 0.88 and 0.64 there, as nested boxes survive it.
    """
    train, val, test = _learning_data(tmp_path)
    model = _detector([train[i][0] for i in range(4)])
    recipe = brecahad_recipe([train], lr=1e-4)  # a short CPU run: 5x the paper's rate
    trainer = Trainer.from_recipe(model, recipe, device="cpu", progress=False)
    loader = DataLoader(train, batch_size=1, shuffle=True, collate_fn=collate_detection)
    test_loader = DataLoader(test, batch_size=2, collate_fn=collate_detection)
    targets = [test[i][1] for i in range(len(test))]
    before = _operating_point(suppress_duplicates(trainer.predict(test_loader), 16), targets)
    history = trainer.fit(loader, epochs=2,
                          val_loader=DataLoader(val, batch_size=1, collate_fn=collate_detection))
    evaluation = evaluate_test(trainer, test, min_distance=16)
    after = _operating_point(evaluation["predictions"], targets)
    raw = _operating_point(evaluation["raw_predictions"], targets)
    print(f"losses {[round(row['loss'], 3) for row in history]}, validation "
          f"{[round(row['val_loss'], 3) for row in history]}; tumour recall at FDR <= 0.5: "
          f"{before:.3f} before, {after:.3f} after training ({raw:.3f} without suppressing "
          f"duplicates); AP50 {evaluation['ap50']:.3f}", flush=True)
    save_figures(tmp_path, history, evaluation, test)  # the pictures of docs/brecahad.md
    assert after >= 0.8 > before

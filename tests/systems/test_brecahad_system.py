"""The BreCaHAD paper's recipe, augmentation and the demo figure's caption."""

from __future__ import annotations

import pytest
import torch
from torchvision.transforms import v2

from histomammo.engine import Trainer
from histomammo.systems.brecahad import (
    PAPER_RECIPE,
    PatchEpoch,
    brecahad_recipe,
    detections_caption,
    paper_augmentation,
)


class _Data:
    epoch = None

    def set_epoch(self, epoch):
        self.epoch = epoch


def test_recipe_is_the_papers():
    data = _Data()
    recipe = brecahad_recipe([data])
    assert (recipe.epochs, recipe.batch_size, recipe.loss) == (100, 1, None)
    assert PAPER_RECIPE == {"epochs": 100, "batch_size": 1, "lr": 2e-5, "weight_decay": 5e-4,
                            "lr_factor": 0.98}
    model = torch.nn.Linear(2, 2)
    model.bias.requires_grad_(False)
    trainer = Trainer.from_recipe(model, recipe, device="cpu", progress=False)
    group = trainer.optimizer.param_groups[0]
    assert isinstance(trainer.optimizer, torch.optim.Adam) and group["fused"]
    assert (group["lr"], group["weight_decay"], len(group["params"])) == (2e-5, 5e-4, 1)
    trainer.optimizer.step()
    trainer.scheduler.step()
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(2e-5 * 0.98)
    (callback,) = trainer.callbacks
    assert isinstance(callback, PatchEpoch)
    callback.on_epoch_start(None, 4)
    assert data.epoch == 4
    sgd = brecahad_recipe(optimizer="sgd").build_optimizer(torch.nn.Linear(2, 2))
    assert isinstance(sgd, torch.optim.SGD) and sgd.defaults["momentum"] == 0.9
    with pytest.raises(ValueError, match="optimizer must be 'adam' or 'sgd'"):
        brecahad_recipe(optimizer="rmsprop")
    with pytest.raises(ValueError, match="lr_factor must be in"):
        brecahad_recipe(lr_factor=1.5)
    with pytest.raises(ValueError, match="no trainable parameters"):
        brecahad_recipe().build_optimizer(torch.nn.Linear(2, 2).requires_grad_(False))
    with pytest.raises(TypeError, match="no set_epoch"):
        brecahad_recipe([object()])


def test_paper_augmentation_flips_boxes_with_the_image():
    assert isinstance(paper_augmentation(), v2.RandomHorizontalFlip)


def test_detections_caption_says_why_no_box_is_drawn():
    some = {"scores": torch.tensor([0.9, 0.04, 0.01])}
    assert detections_caption(some, 2) == (0.05, "ground truth (red), predictions >= 0.05 (green)")
    low = {"scores": torch.linspace(0.04, 0.001, 12)}
    threshold, title = detections_caption(low, 1)
    assert threshold == pytest.approx(float(low["scores"][9]))  # the 10 best are drawn
    assert title.startswith("no prediction reached 0.05 after 1 epoch(s) (best score 0.040)")
    threshold, title = detections_caption({"scores": torch.zeros(0)}, 3)
    assert title.startswith("no prediction after 3 epoch(s)") and threshold == 0.05


def test_load_splits_gives_the_detector_float_input(tmp_path):
    """BreCaHAD yields uint8 as stored; the workflow's splits convert after the flip."""
    from histomammo.datasets.synthetic import make_brecahad
    from histomammo.systems.brecahad import load_splits

    root = make_brecahad(tmp_path, n_cases=3, images_per_case=(2, 1, 1), size=(96, 128),
                         nuclei=(3, 4), seed=0)
    data = load_splits(root, patch_size=(48, 64), image_size=(96, 128))
    assert sorted(n for d in data.values() for n in d.names) == [
        "Case_1-01", "Case_1-02", "Case_2-01", "Case_3-01"]
    for split, dataset in data.items():
        image, target = dataset[0]
        assert image.dtype == torch.float32, split
        assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0 and float(image.max()) > 0.1
        assert target["boxes"].dtype == torch.float32

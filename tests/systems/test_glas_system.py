"""Tests of histomammo.systems.glas: the paper's schedules, its Mask R-CNN evaluation
loss, and proof that the U-Net learns gland segmentation on synthetic GlaS."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch

from histomammo.datasets.glas import GlaS
from histomammo.datasets.synthetic import make_glas
from histomammo.engine import Recipe
from histomammo.metrics.segmentation import glas_metrics
from histomammo.models import UNet
from histomammo.models.maskrcnn import maskrcnn_glas
from histomammo.postprocess import maskrcnn_instances
from histomammo.systems.glas import (
    MASKRCNN_SCHEDULE,
    PAPER_UNET_VAL_LOSS,
    maskrcnn_evaluation_loss,
    maskrcnn_input_transforms,
    maskrcnn_recipe,
    recipe,
    train_maskrcnn,
    train_unet,
    unet_input_transforms,
    unet_loss,
    unet_recipe,
)
from histomammo.transforms.letterbox import restore_original_size, square_geometry


def test_schedules_are_the_papers() -> None:
    unet = unet_recipe()
    assert [(p.epochs, p.batch_size, p.loss) for p in unet.phases] == [
        (900, 6, unet_loss), (50, 6, unet_loss)]
    assert PAPER_UNET_VAL_LOSS == {"start": 0.69, "after_phase1": 0.42, "after_phase2": 0.29}
    assert MASKRCNN_SCHEDULE["lr"] == 5e-3 and MASKRCNN_SCHEDULE["weight_decay"] == 5e-4
    assert MASKRCNN_SCHEDULE["batch_size"] == 2 and MASKRCNN_SCHEDULE["epochs"] == 500
    model = torch.nn.Linear(2, 1)
    sgd, adam = (phase.build_optimizer(model) for phase in unet.phases)
    assert isinstance(sgd, torch.optim.SGD) and sgd.defaults["weight_decay"] == 1e-5
    assert sgd.defaults["lr"] == 0.1 and sgd.defaults["momentum"] == 0
    assert isinstance(adam, torch.optim.Adam) and adam.defaults["lr"] == 1e-5
    assert adam.defaults["weight_decay"] == 1e-3
    mask_rcnn = recipe("maskrcnn")
    mrcnn = mask_rcnn.build_optimizer(model)
    assert isinstance(mrcnn, torch.optim.SGD) and mrcnn.defaults["momentum"] == 0.9
    assert mrcnn.defaults["lr"] == 5e-3 and mrcnn.defaults["weight_decay"] == 5e-4
    assert (mask_rcnn.loss, mask_rcnn.epochs, mask_rcnn.batch_size) == (None, 500, 2)
    with pytest.raises(ValueError, match="the GlaS recipes are"):
        recipe("fcn")
    with pytest.raises(ValueError, match="one entry per phase"):
        unet_recipe(epochs=(1,))


def test_unet_loss_is_bce() -> None:
    logits = torch.tensor([[[[2.0, -1.0]]]])
    mask = torch.tensor([[[1, 0]]], dtype=torch.uint8)
    expected = -(np.log(1 / (1 + np.exp(-2.0))) + np.log(1 - 1 / (1 + np.exp(1.0)))) / 2
    assert float(unet_loss(logits, {"mask": mask})) == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="does not fit"):
        unet_loss(logits, torch.zeros(1, 3, 3))


def test_evaluation_loss_is_the_papers() -> None:
    # BCE on binary inputs is 100 x the fraction of wrong pixels (log clamped at -100)
    masks = torch.zeros(2, 1, 4, 4)
    masks[0, 0, :2] = 0.7
    masks[1, 0, 2:] = 0.4
    masks[1, 0, 3, 3] = 0.0
    masks[1, 0, 3, 2] = 0.0
    truth = {"masks": torch.ones(1, 4, 4, dtype=torch.uint8)}
    # the union is 0.4 < 0.5 on rows 2-3: 8 wrong pixels of 16
    assert maskrcnn_evaluation_loss([{"masks": masks}], [truth]) == pytest.approx(50.0)
    empty = {"masks": torch.zeros(0, 1, 4, 4)}
    assert maskrcnn_evaluation_loss([empty], [{"masks": torch.zeros(0, 4, 4)}]) == 0.0


def test_learns(tmp_path: Path, one_thread) -> None:
    """A reduced U-Net trained for seconds segments held-out synthetic glands: F1 >= 0.6."""
    root = make_glas(tmp_path, counts={"train": 16, "testA": 6, "testB": 1}, size=(96, 96),
                     seed=0)
    train = GlaS(root, "train", target="semantic",
                 transforms=unet_input_transforms(True, size=96, crop_size=96))
    test = GlaS(root, "testA", target="semantic",
                transforms=unet_input_transforms(False, size=96))
    torch.manual_seed(0)
    model = UNet(base_channels=8, depth=3)

    def pooled_f1() -> float:
        model.eval()
        masks, truths = [], []
        with torch.no_grad():
            for index in range(len(test)):
                image, _ = test[index]
                geometry = square_geometry(test.sample_info(index)["size"], 96)
                probability = restore_original_size(torch.sigmoid(model(image[None]))[0, 0],
                                                    geometry)
                masks.append(probability.numpy() > 0.5)
                truths.append(test.labels(index))
        return glas_metrics(masks, truths)["f1"]

    before = pooled_f1()
    # the paper's recipe, reduced: one Adam phase at a higher rate for 15 epochs
    phase = Recipe(partial(torch.optim.Adam, lr=3e-3), unet_loss, epochs=15, batch_size=4)
    history = train_unet(model, train, recipe=phase, device="cpu", progress=False)
    assert history[-1]["loss"] < 0.5 * history[0]["loss"]
    after = pooled_f1()
    assert before < 0.6 <= after


def test_train_maskrcnn_runs_with_the_evaluation_loss(tmp_path: Path, one_thread) -> None:
    root = make_glas(tmp_path / "data", counts={"train": 2, "testA": 1, "testB": 1},
                     size=(64, 64), seed=0)
    train = GlaS(root, "train", transforms=maskrcnn_input_transforms(True, crop_size=64))
    val = GlaS(root, "testA", transforms=maskrcnn_input_transforms(False))
    torch.manual_seed(0)
    model = maskrcnn_glas(backbone="resnet18", min_size=64, max_size=64)
    history = train_maskrcnn(model, train, val, maskrcnn_recipe(epochs=1), device="cpu",
                             progress=False, checkpoint_dir=tmp_path / "run")
    row = history[-1]
    assert row["step"] == 1 and "loss_mask" in row
    assert 0.0 <= row["val_evaluation_loss"] <= 100.0
    assert (tmp_path / "run" / "history.csv").exists()


@pytest.mark.slow
@pytest.mark.timeout(1800)  # about 11 CPU-minutes with one thread
def test_maskrcnn_learns(tmp_path: Path, one_thread) -> None:
    """Mask R-CNN at small size reaches pooled object F1 >= 0.6 on held-out synthetic glands.

    Small size: 96x96 images and a ResNet-18 FPN backbone trained from scratch (the paper
    fine-tuned COCO weights, which nothing here may download), gradient clipping against the
    first steps' divergence, the paper's learning rate. Measured: pooled F1 0.683 (41 TP, 30
    FP, 8 FN) after these 5 epochs.
    """
    root = make_glas(tmp_path, counts={"train": 24, "testA": 6, "testB": 1}, size=(96, 96),
                     seed=0)
    train = GlaS(root, "train", transforms=maskrcnn_input_transforms(True, crop_size=96))
    test = GlaS(root, "testA", transforms=maskrcnn_input_transforms(False))
    torch.manual_seed(0)
    model = maskrcnn_glas(backbone="resnet18", min_size=96, max_size=96)
    train_maskrcnn(model, train, recipe=maskrcnn_recipe(epochs=5, batch_size=4, grad_clip=5.0),
                   device="cpu", progress=False)
    model.eval()
    with torch.no_grad():
        preds = [maskrcnn_instances(model([test[i][0]])[0]).numpy() for i in range(len(test))]
    assert glas_metrics(preds, [test.labels(i) for i in range(len(test))])["f1"] >= 0.6


def test_losses_follow_their_tensors_device() -> None:
    """unet_loss and the evaluation loss make nothing on the CPU: on the meta device a tensor
    made on the CPU inside would raise a device mismatch."""
    logits = torch.zeros(2, 1, 4, 4, device="meta")
    loss = unet_loss(logits, {"mask": torch.ones(2, 4, 4, dtype=torch.uint8, device="meta")})
    assert loss.device.type == "meta" and loss.dtype == logits.dtype
    from histomammo.systems.glas._recipe import _image_evaluation_loss

    for count in (0, 2):  # no prediction (the zeros), and predictions
        output = {"masks": torch.rand(count, 1, 4, 4).to("meta")}
        image_loss = _image_evaluation_loss(output, {"masks": torch.ones(1, 4, 4, device="meta")},
                                            0.5)
        assert image_loss.device.type == "meta"
    # a CPU mask next to predictions elsewhere is moved to them, not the other way round
    assert unet_loss(logits, torch.ones(2, 4, 4)).device.type == "meta"

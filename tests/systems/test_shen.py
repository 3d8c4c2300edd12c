"""Shen et al.'s schedules on the real models, and the batch-balanced loss."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from histomammo.models import PatchToImageClassifier
from histomammo.models.resnet import resnet50_patch
from histomammo.models.vgg import vgg16_gap
from histomammo.systems.shen import (
    BatchBalancedCrossEntropy,
    batch_balanced_cross_entropy,
    patch_recipe,
    recipe,
    shen_optimizer,
    whole_image_recipe,
)


@pytest.fixture(scope="module")
def resnet():
    with torch.device("meta"):
        return resnet50_patch()


def test_patch_stages_resnet_top_46(resnet):
    patch = patch_recipe(resnet)
    assert (patch.batch_size, patch.epochs) == (32, 50)
    assert isinstance(patch.loss, BatchBalancedCrossEntropy)
    schedule = patch.callbacks[0]
    assert [(s.epochs, s.lr) for s in schedule.stages] == [(3, 1e-3), (10, 1e-4), (37, 1e-5)]
    assert schedule.trainable_names(resnet, 0) == ["fc.weight", "fc.bias"]
    second = schedule.trainable_names(resnet, 3)
    assert all(n.startswith(("layer3.5.", "layer4.", "fc.")) for n in second)
    # res4f (10 Keras layers), res5a-c (32), avg_pool and dense: the weight-owning modules
    convs_bns = {n.rsplit(".", 1)[0] for n in second if not n.startswith("fc")}
    assert len(convs_bns) == 2 * (3 + 3 * 3 + 1)  # res4f: 3 conv+bn; res5: 3x3 + shortcut
    assert len(schedule.trainable_names(resnet, 13)) == len(list(resnet.parameters()))
    assert patch_recipe(resnet, patch_set="S1").epochs == 200


def test_patch_stages_vgg_top_11_and_random_init():
    with torch.device("meta"):
        vgg = vgg16_gap()
    schedule = patch_recipe(vgg).callbacks[0]
    names = schedule.trainable_names(vgg, 5)
    assert {n.rsplit(".", 1)[0] for n in names} == {
        "features.17", "features.19", "features.21", "features.24", "features.26",
        "features.28", "fc"}
    (only,) = recipe("patch", vgg, pretrained=False).callbacks[0].stages
    assert (only.epochs, only.trainable, only.lr) == (50, "all", 1e-3)
    assert isinstance(shen_optimizer(vgg), torch.optim.Adam)


def test_whole_image_stages(resnet):
    model = PatchToImageClassifier(resnet, top="vgg", top_blocks=[(8, 1), (8, 1)])
    whole = whole_image_recipe(model)
    assert (whole.batch_size, whole.epochs) == (2, 250)
    schedule = whole.callbacks[0]
    first, second = schedule.stages
    assert (first.epochs, first.lr, first.weight_decay) == (30, 1e-4, 1e-3)
    assert (second.epochs, second.lr, second.weight_decay) == (220, 1e-5, 1e-2)  # VGG: +200
    new = schedule.trainable_names(model, 0)
    assert new and all(n.startswith("top.") for n in new)
    assert not any(n.startswith(("body.", "heatmap")) for n in new)
    resnet_top = PatchToImageClassifier(resnet, top="resnet",
                                        top_blocks=[((8, 8, 16), 1), ((8, 8, 16), 1)])
    assert whole_image_recipe(resnet_top).callbacks[0].stages[1].epochs == 20


def test_batch_balanced_cross_entropy():
    torch.manual_seed(0)
    logits = torch.randn(10, 5)
    targets = torch.tensor([0, 0, 0, 0, 0, 0, 1, 1, 3, 4])
    per = F.cross_entropy(logits, targets, reduction="none")
    expected = torch.stack([per[targets == c].mean() for c in (0, 1, 3, 4)]).mean()
    torch.testing.assert_close(batch_balanced_cross_entropy(logits, targets), expected)
    torch.testing.assert_close(BatchBalancedCrossEntropy()(logits, targets), expected)
    balanced = torch.tensor([0, 1, 2, 3, 4, 0, 1, 2, 3, 4])
    torch.testing.assert_close(batch_balanced_cross_entropy(logits, balanced),
                               F.cross_entropy(logits, balanced))

"""Tests of histomammo.models.maskrcnn: section 6.3 of the GlaS seed paper."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from torchvision.models.detection import maskrcnn_resnet50_fpn
from torchvision.ops.misc import FrozenBatchNorm2d

from histomammo.errors import CheckpointError, MissingFileError
from histomammo.models import create_model
from histomammo.models.maskrcnn import maskrcnn_glas
from histomammo.postprocess import maskrcnn_instances


@pytest.fixture(scope="module")
def model() -> nn.Module:
    torch.manual_seed(0)
    return maskrcnn_glas()


def test_architecture_is_resnet50_fpn_with_256_mask_head(model: nn.Module) -> None:
    body = model.backbone.body
    assert [len(getattr(body, f"layer{i}")) for i in range(1, 5)] == [3, 4, 6, 3]  # ResNet-50
    assert model.backbone.out_channels == 256
    head_convs = [m for m in model.roi_heads.mask_head.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in head_convs] == [256, 256, 256, 256]
    predictor = model.roi_heads.mask_predictor
    assert predictor.conv5_mask.out_channels == 256  # the paper's hidden layer
    assert predictor.mask_fcn_logits.out_channels == 2  # background, gland
    assert model.roi_heads.box_predictor.cls_score.out_features == 2


def test_parameter_count_matches_torchvision(model: nn.Module) -> None:
    reference = maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=2)
    count = sum(p.numel() for p in model.parameters())
    assert count == sum(p.numel() for p in reference.parameters()) == 43_975_515


def test_pretrained_file_loads_with_frozen_batch_norm(tmp_path: Path) -> None:
    torch.manual_seed(0)
    coco_like = maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91)
    torch.save(coco_like.state_dict(), tmp_path / "coco.pt")
    model = maskrcnn_glas(weights=tmp_path / "coco.pt")
    assert isinstance(model.backbone.body.bn1, FrozenBatchNorm2d)
    assert torch.equal(model.backbone.body.layer4[0].conv1.weight,
                       coco_like.backbone.body.layer4[0].conv1.weight)
    # 91-class predictors do not fit: replaced by fresh 2-class ones, as the tutorial does
    assert model.roi_heads.box_predictor.cls_score.out_features == 2
    trainable = {n.split(".")[0] for n, p in model.backbone.body.named_parameters()
                 if p.requires_grad}
    assert trainable == {"layer2", "layer3", "layer4"}  # torchvision's 3 for pretrained


def test_backbone_file_loads(tmp_path: Path) -> None:
    from torchvision.models import resnet50

    torch.manual_seed(1)
    net = resnet50()
    torch.save(net.state_dict(), tmp_path / "resnet50.pt")
    model = maskrcnn_glas(weights_backbone=tmp_path / "resnet50.pt")
    assert torch.equal(model.backbone.body.conv1.weight, net.conv1.weight)


def test_exception_bad_weights(tmp_path: Path) -> None:
    (tmp_path / "garbled.pt").write_bytes(b"\x00not a checkpoint")
    with pytest.raises(CheckpointError, match="garbled.pt"):
        maskrcnn_glas(backbone="resnet18", weights=tmp_path / "garbled.pt")
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="other.pt.*missing"):
        maskrcnn_glas(backbone="resnet18", weights=tmp_path / "other.pt")
    with pytest.raises(MissingFileError, match="absent.pt"):
        maskrcnn_glas(backbone="resnet18", weights=tmp_path / "absent.pt")


def test_forward_train_and_eval() -> None:
    torch.manual_seed(0)
    model = create_model("maskrcnn_glas", backbone="resnet18", min_size=64, max_size=64)
    masks = torch.zeros(1, 64, 64, dtype=torch.uint8)
    masks[0, 10:30, 12:40] = 1
    target = {"boxes": torch.tensor([[12.0, 10.0, 40.0, 30.0]]), "labels": torch.tensor([1]),
              "masks": masks}
    losses = model([torch.rand(3, 64, 64)], [target])
    assert set(losses) == {"loss_classifier", "loss_box_reg", "loss_mask", "loss_objectness",
                           "loss_rpn_box_reg"}
    model.eval()
    with torch.no_grad():
        output = model([torch.rand(3, 64, 64)])[0]
    labels = maskrcnn_instances(output, score_threshold=0.0)
    assert labels.shape == (64, 64) and labels.dtype == torch.int32

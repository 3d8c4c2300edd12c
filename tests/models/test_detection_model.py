"""fasterrcnn_brecahad is the seed paper's model: every count of its annex, every setting of 2.4.2."""

from __future__ import annotations

import pytest
import torch
from torchvision.models import resnet50
from torchvision.ops import FrozenBatchNorm2d

from histomammo.errors import CheckpointError, MissingFileError
from histomammo.models import calibrate_batchnorm, create_model, list_models
from histomammo.models.detection import (
    ANCHOR_SIZES,
    PAPER_IMAGE_MEAN,
    PAPER_IMAGE_STD,
    fasterrcnn_brecahad,
)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return fasterrcnn_brecahad()


def _count(module, trainable=False):
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable)


def test_annex_parameter_counts(model):
    assert _count(model) == 144_057_039
    assert _count(model, trainable=True) == 143_834_639
    head, predictor, rpn = model.roi_heads.box_head, model.roi_heads.box_predictor, model.rpn.head
    assert (_count(head.fc6), _count(head.fc7)) == (115_606_528, 1_049_600)
    assert head.fc6.in_features == 256 * 21 * 21 == 112_896
    assert (_count(predictor.cls_score), _count(predictor.bbox_pred)) == (2_050, 8_200)
    assert (_count(rpn.conv), _count(rpn.cls_logits), _count(rpn.bbox_pred)) == (590_080, 257, 1_028)


def test_frozen_batchnorm_and_three_trainable_layers(model):
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._NormBase)]
    assert not norms
    assert sum(isinstance(m, FrozenBatchNorm2d) for m in model.backbone.body.modules()) == 53
    trainable = {name.split(".")[0] for name, p in model.backbone.body.named_parameters()
                 if p.requires_grad}
    assert trainable == {"layer2", "layer3", "layer4"}
    frozen = {name.split(".")[0] for name, p in model.backbone.body.named_parameters()
              if not p.requires_grad}
    assert frozen == {"conv1", "layer1"}


def test_section_2_4_2_settings(model):
    t = model.transform
    assert (t.min_size, t.max_size) == ((1024,), 1360)
    assert tuple(t.image_mean) == PAPER_IMAGE_MEAN == (0.75141764, 0.6385864, 0.8118883)
    assert tuple(t.image_std) == PAPER_IMAGE_STD == (0.00398171, 0.00440513, 0.00163838)
    rpn, roi = model.rpn, model.roi_heads
    assert rpn.proposal_matcher.high_threshold == roi.proposal_matcher.high_threshold == 0.9
    assert rpn.proposal_matcher.low_threshold == roi.proposal_matcher.low_threshold == 0.1
    assert rpn.nms_thresh == roi.nms_thresh == 0.8
    assert roi.detections_per_img == 200
    pool = roi.box_roi_pool
    assert (pool.featmap_names, pool.output_size, pool.sampling_ratio) == (["0", "1"], (21, 21), 2)
    generator = rpn.anchor_generator
    assert generator.num_anchors_per_location() == [1] * 5
    assert generator.sizes == ANCHOR_SIZES and generator.aspect_ratios == ((1.0,),) * 5


def test_registry_and_overrides():
    assert "fasterrcnn_brecahad" in list_models("fasterrcnn*")
    small = create_model("fasterrcnn_brecahad", min_size=64, max_size=80, num_classes=8,
                         normalization="dataset", image_mean=(0.5, 0.4, 0.6),
                         image_std=(0.1, 0.1, 0.1))
    assert small.transform.min_size == (64,) and small.roi_heads.box_predictor.cls_score.out_features == 8
    assert small.transform.image_std == [0.1, 0.1, 0.1]
    small.eval()
    with torch.no_grad():
        out = small([torch.rand(3, 64, 80)])
    assert set(out[0]) == {"boxes", "scores", "labels"}


@pytest.mark.parametrize("kwargs, message", [
    (dict(normalization="imagenet"), "normalization must be"),
    (dict(normalization="dataset"), "needs image_mean and image_std"),
    (dict(normalization="dataset", image_mean=(0.5,), image_std=(1, 1, 1)), "3 values each"),
    (dict(normalization="dataset", image_mean=(0.5,) * 3, image_std=(1, 0, 1)), "std > 0"),
    (dict(image_mean=(0.5,) * 3), "taken from the paper"),
    (dict(anchor_sizes=((32, 64),) * 5), "one size for each"),
    (dict(num_classes=1), "num_classes"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fasterrcnn_brecahad(**kwargs)


def test_weights_files_load_safely(tmp_path, model):
    # an ImageNet-style torchvision file: plain BatchNorm statistics and an fc layer
    torch.manual_seed(1)
    classifier = resnet50()
    classifier.layer3[0].bn1.running_mean.uniform_()
    path = tmp_path / "resnet50.pth"
    torch.save(classifier.state_dict(), path)
    loaded = fasterrcnn_brecahad(weights_backbone=path)
    body = loaded.backbone.body
    torch.testing.assert_close(body.layer3[0].bn1.running_mean, classifier.layer3[0].bn1.running_mean)
    torch.testing.assert_close(body.conv1.weight, classifier.conv1.weight)
    assert not body.conv1.weight.requires_grad and body.layer2[0].conv1.weight.requires_grad
    whole = tmp_path / "detector.pt"
    torch.save(loaded.state_dict(), whole)
    again = fasterrcnn_brecahad(weights=whole)
    torch.testing.assert_close(again.roi_heads.box_head.fc7.weight, loaded.roi_heads.box_head.fc7.weight)

    with pytest.raises(MissingFileError, match="absent.pt"):
        fasterrcnn_brecahad(weights=tmp_path / "absent.pt")
    torch.save({"conv1.weight": torch.zeros(1)}, tmp_path / "wrong.pt")
    with pytest.raises(CheckpointError, match="wrong.pt: does not fit ResNet-50"):
        fasterrcnn_brecahad(weights_backbone=tmp_path / "wrong.pt")
    (tmp_path / "garbled.pt").write_bytes(b"not a torch file at all")
    with pytest.raises(CheckpointError, match="garbled.pt: cannot be loaded safely"):
        fasterrcnn_brecahad(weights=tmp_path / "garbled.pt")
    torch.save({"model": {"a": 1}, "optimizer": None}, tmp_path / "nested.pt")
    with pytest.raises(CheckpointError, match="nested.pt: holds"):
        fasterrcnn_brecahad(weights=tmp_path / "nested.pt")
    trunc = tmp_path / "truncated.pt"
    trunc.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="truncated.pt"):
        fasterrcnn_brecahad(weights_backbone=trunc)


def test_calibration_normalises_the_frozen_backbone():
    torch.manual_seed(0)
    small = fasterrcnn_brecahad(min_size=64, max_size=64)
    images = [torch.rand(3, 64, 64) for _ in range(2)]
    features = {}
    small.backbone.body.layer4.register_forward_hook(lambda m, i, o: features.__setitem__("x", o))
    small.eval()
    with torch.no_grad():
        small(images)
        before = features["x"].std().item()
        assert calibrate_batchnorm(small, images) == 53
        small(images)
    assert before > 20 and 0.3 < features["x"].std().item() < 5

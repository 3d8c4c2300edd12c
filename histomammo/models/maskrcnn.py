"""Mask R-CNN for gland instance segmentation, as the GlaS seed paper configured it (section 6.3).

A ResNet-50-FPN Mask R-CNN (torchvision's implementation: RPN, RoIAlign, box head, and a mask
head of four 256-channel 3x3 convolutions) whose mask predictor has a 256-channel hidden
layer (the paper's "size 256 of the hidden convolutional layer in the mask branch", the
``hidden_layer = 256`` of the torchvision fine-tuning tutorial it followed), predicting
``num_classes = 2`` (background, gland).

The paper started from COCO-pretrained weights. Nothing is downloaded here: pass the path of
a file you have (a full Mask R-CNN ``state_dict``, e.g. torchvision's COCO checkpoint, whose
91-class box and mask predictors are skipped because they do not fit, as the tutorial
replaces them; or an ImageNet ResNet ``state_dict`` for the backbone). Loading uses
``torch.load(weights_only=True)``.

References
----------
K. He, G. Gkioxari, P. Dollar, R. Girshick, "Mask R-CNN", ICCV 2017.
"""

from __future__ import annotations

from typing import Any

from torch import nn
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
from torchvision.models.detection.mask_rcnn import MaskRCNNPredictor
from torchvision.ops.misc import FrozenBatchNorm2d

from histomammo.models._registry import register_model
from histomammo.models._weights import Weights, load_weights

__all__ = ["maskrcnn_glas"]

# Parts a checkpoint of another task may not fit: replaced, as the fine-tuning tutorial does.
_TASK_HEADS = ("roi_heads.box_predictor", "roi_heads.mask_predictor")


@register_model
def maskrcnn_glas(
    *,
    num_classes: int = 2,
    weights: Weights = None,
    weights_backbone: Weights = None,
    mask_hidden: int = 256,
    backbone: str = "resnet50",
    trainable_backbone_layers: int | None = None,
    **kwargs: Any,
) -> MaskRCNN:
    """ResNet-50-FPN Mask R-CNN with a ``mask_hidden``-channel mask predictor.

    Parameters
    ----------
    num_classes : int
        Including the background (2: background, gland).
    weights : str, path or state dict, optional
        A full model state dict or Trainer checkpoint (the paper used COCO-pretrained
        weights), read by [`load_weights`][histomammo.models._weights.load_weights]; box and
        mask predictors of another class count are kept as built.
    weights_backbone : str, path or state dict, optional
        An ImageNet ResNet state dict for the backbone (its ``fc`` ignored).
    mask_hidden : int
        Hidden channels of the mask predictor (256 in the paper).
    backbone : str
        ``"resnet50"`` (the paper's). Smaller ResNets (``"resnet18"``, ``"resnet34"``) exist
        for quick experiments and tests only.
    trainable_backbone_layers : int, optional
        As torchvision: 3 when weights are given, else 5 (all).
    **kwargs
        Passed to torchvision's ``MaskRCNN`` (``min_size``, ``max_size``, ...).

    Returns
    -------
    torchvision.models.detection.MaskRCNN
        Train mode: ``model(images, targets)`` returns the loss dict; eval mode: a list of
        ``{"boxes", "labels", "scores", "masks" (N, 1, H, W) float probabilities}``.

    Notes
    -----
    Batch norm is built as torchvision builds it: frozen (``FrozenBatchNorm2d``) for a
    pretrained backbone, ordinary ``BatchNorm2d`` when trained from scratch.

    Examples
    --------
    >>> model = maskrcnn_glas(backbone="resnet18", min_size=64, max_size=64)
    >>> model.roi_heads.mask_predictor.conv5_mask.out_channels
    256
    """
    pretrained = weights is not None or weights_backbone is not None
    if trainable_backbone_layers is None:
        trainable_backbone_layers = 3 if pretrained else 5
    norm_layer = FrozenBatchNorm2d if pretrained else nn.BatchNorm2d
    fpn = resnet_fpn_backbone(backbone_name=backbone, weights=None, norm_layer=norm_layer,
                              trainable_layers=5)
    if weights is None:
        load_weights(fpn.body, weights_backbone, ignore=("fc",), what="ResNet backbone")
    _freeze_layers(fpn.body, trainable_backbone_layers)
    model = MaskRCNN(fpn, num_classes=num_classes, **kwargs)
    mask_in = model.roi_heads.mask_predictor.conv5_mask.in_channels
    model.roi_heads.mask_predictor = MaskRCNNPredictor(mask_in, mask_hidden, num_classes)
    return load_weights(model, weights, head=_TASK_HEADS, what="Mask R-CNN")


def _freeze_layers(body: nn.Module, trainable: int) -> None:
    """Freeze all but the last ``trainable`` ResNet stages, as torchvision's extractor does."""
    if not 0 <= trainable <= 5:
        raise ValueError(f"trainable_backbone_layers must be in [0, 5], but got {trainable}")
    keep = ["layer4", "layer3", "layer2", "layer1", "conv1"][:trainable]
    if trainable == 5:
        keep.append("bn1")
    for name, parameter in body.named_parameters():
        parameter.requires_grad_(any(name.startswith(layer) for layer in keep))

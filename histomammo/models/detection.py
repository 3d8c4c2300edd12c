"""Faster R-CNN for nucleus detection on BreCaHAD, exactly as its seed paper configures it.

[`fasterrcnn_brecahad`][histomammo.models.fasterrcnn_brecahad] builds torchvision's Faster R-CNN
with the ResNet-50-FPN backbone
and every setting of section 2.4.2 of ``seeds/brecahad_faster_rcnn.txt``; the parameter counts
of the paper's annex (144,057,039 in all, 143,834,639 trainable) are asserted by the tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from torchvision.models import resnet50
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.ops import FrozenBatchNorm2d, MultiScaleRoIAlign

from histomammo.models._registry import register_model
from histomammo.models._weights import Weights, load_weights

__all__ = [
    "ANCHOR_SIZES",
    "PAPER_IMAGE_MEAN",
    "PAPER_IMAGE_STD",
    "fasterrcnn_brecahad",
]

#: Section 2.4.2, items 6 and 7, of the seed paper (RGB, images scaled to [0, 1]).
PAPER_IMAGE_MEAN: tuple[float, float, float] = (0.75141764, 0.6385864, 0.8118883)
PAPER_IMAGE_STD: tuple[float, float, float] = (0.00398171, 0.00440513, 0.00163838)

#: One anchor size per FPN level ("0", "1", "2", "3", "pool"; strides 4 to 64 px of the
#: resized input). BreCaHAD is 0.514 um/px at 40x; nuclei are about 5-15 um across, i.e.
#: 10-30 px at full resolution and 20-60 px after the paper's x2 interpolation of the
#: 512 x 680 patches to 1024 x 1360. Sizes 16, 32 and 64 on the three finest levels cover
#: single nuclei; 128 and 256 cover clusters and the ``patches="downscale"`` reading.
ANCHOR_SIZES: tuple[tuple[int], ...] = ((16,), (32,), (64,), (128,), (256,))

_TRAINABLE_BACKBONE_LAYERS = ("layer4", "layer3", "layer2")  # torchvision's default of 3



def _backbone(weights_backbone: Weights) -> BackboneWithFPN:
    """ResNet-50-FPN with FrozenBatchNorm2d throughout and layers 2-4 trainable."""
    body = resnet50(weights=None, norm_layer=FrozenBatchNorm2d)
    # An ImageNet classifier file also holds "fc.*", which the detector does not use.
    load_weights(body, weights_backbone, ignore=("fc",), what="ResNet-50")
    for name, parameter in body.named_parameters():
        if not name.startswith(_TRAINABLE_BACKBONE_LAYERS):
            parameter.requires_grad_(False)
    return_layers = {f"layer{k}": str(k - 1) for k in (1, 2, 3, 4)}
    return BackboneWithFPN(body, return_layers, [256, 512, 1024, 2048], 256)


def _normalization(
    normalization: str, image_mean: Sequence[float] | None, image_std: Sequence[float] | None
) -> tuple[list[float], list[float]]:
    if normalization == "paper":
        if image_mean is not None or image_std is not None:
            raise ValueError("image_mean/image_std are taken from the paper with "
                             "normalization='paper'; pass normalization='dataset' to give them")
        return list(PAPER_IMAGE_MEAN), list(PAPER_IMAGE_STD)
    if normalization != "dataset":
        raise ValueError(f"normalization must be 'paper' or 'dataset', but got {normalization!r}")
    if image_mean is None or image_std is None:
        raise ValueError("normalization='dataset' needs image_mean and image_std (3 floats "
                         "each, e.g. from histomammo.datasets.stats.compute_mean_std)")
    mean, std = [float(v) for v in image_mean], [float(v) for v in image_std]
    if len(mean) != 3 or len(std) != 3 or not all(s > 0 for s in std):
        raise ValueError(f"image_mean and image_std must be 3 values each with std > 0, "
                         f"but got {image_mean!r} and {image_std!r}")
    return mean, std


@register_model
def fasterrcnn_brecahad(
    *,
    num_classes: int = 2,
    weights: Weights = None,
    weights_backbone: Weights = None,
    normalization: Literal["paper", "dataset"] = "paper",
    image_mean: Sequence[float] | None = None,
    image_std: Sequence[float] | None = None,
    anchor_sizes: Sequence[Sequence[int]] = ANCHOR_SIZES,
    **overrides: Any,
) -> FasterRCNN:
    """The seed paper's Faster R-CNN (ResNet-50-FPN) for BreCaHAD nucleus detection.

    Section 2.4.2 of the paper: ``min_size=1024, max_size=1360`` (the 512 x 680 patches are
    interpolated to 1024 x 1360), ``rpn_fg_iou_thresh=box_fg_iou_thresh=0.9``,
    ``rpn_bg_iou_thresh=box_bg_iou_thresh=0.1``, ``rpn_nms_thresh=box_nms_thresh=0.8``,
    ``box_detections_per_img=200`` and ``box_roi_pool=MultiScaleRoIAlign(["0", "1"],
    output_size=21, sampling_ratio=2)`` (hence fc6's 256 * 21 * 21 = 112,896 inputs).

    The annex shows ``FrozenBatchNorm2d`` throughout the backbone and an RPN head with one
    anchor per location. The paper's torchvision 0.7 gave frozen batch norm and 3 trainable
    backbone layers (layer2-layer4) because it loaded an ImageNet backbone; here the
    backbone is built that way *whatever* the weights (torchvision would give plain
    BatchNorm without weights, which is harmful at the paper's batch size of 1). The paper
    names no anchor sizes: [`ANCHOR_SIZES`][histomammo.models.detection.ANCHOR_SIZES] (16-256 px,
    one per FPN level, aspect ratio
    1) is this library's choice for nuclei at 40x, explained beside it.

    Parameters
    ----------
    num_classes : int
        Including the background: 2 for the paper's tumour-cell detector.
    weights : str, path, state dict or None
        A state dict (or Trainer checkpoint) of this whole model, e.g. one saved from a
        trained detector, read by [`load_weights`][histomammo.models._weights.load_weights].
        Nothing is ever downloaded.
    weights_backbone : str, path, state dict or None
        A torchvision ResNet-50 state dict (e.g. ImageNet weights the user downloaded);
        ``fc.*`` entries are ignored. The paper's backbone was most likely ImageNet-trained.
        Without it, [`calibrate_batchnorm`][histomammo.models.calibration.calibrate_batchnorm]
        (``method="frozen"``) gives the frozen norms statistics from a few training images.
    normalization : {"paper", "dataset"}
        ``"paper"``: the paper's ``image_mean``/``image_std``
        ([`PAPER_IMAGE_MEAN`][histomammo.models.detection.PAPER_IMAGE_MEAN],
        [`PAPER_IMAGE_STD`][histomammo.models.detection.PAPER_IMAGE_STD]). Those "std" values look
        like variances (0.004 is far below
        the spread of H&E colours; their square roots, ~0.06, are plausible standard
        deviations), so the paper's inputs were scaled up ~15x more than unit variance; they
        are kept as the default for fidelity. ``"dataset"``: ``image_mean`` and
        ``image_std`` given by the caller, e.g. from a streaming mean/std over the training
        images (models do not read datasets; the example computes them).
    image_mean, image_std : sequence of 3 floats, optional
        Only with ``normalization="dataset"``.
    anchor_sizes : sequence of 1-tuples
        One size per FPN level (5 levels); one aspect ratio (1.0), so one anchor per location.
    **overrides
        Any other `torchvision.models.detection.FasterRCNN` argument, e.g. smaller
        ``min_size``/``max_size`` for CPU tests; they replace the paper's values.

    Returns
    -------
    torchvision.models.detection.FasterRCNN

    Raises
    ------
    ValueError
        Bad ``normalization`` or mean/std, or not one size per level.
    MissingFileError, CheckpointError
        A weights file that does not exist, cannot be loaded safely or does not fit.

    Examples
    --------
    >>> from histomammo.models import fasterrcnn_brecahad
    >>> model = fasterrcnn_brecahad()
    >>> sum(p.numel() for p in model.parameters())
    144057039
    >>> model.rpn.head.cls_logits.out_channels, model.transform.min_size
    (1, (1024,))
    """
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an int >= 2 (background included), "
                         f"but got {num_classes!r}")
    sizes = tuple(tuple(int(s) for s in level) for level in anchor_sizes)
    if len(sizes) != 5 or any(len(level) != 1 for level in sizes):
        raise ValueError(f"anchor_sizes must give one size for each of the 5 FPN levels, "
                         f"but got {anchor_sizes!r}")
    mean, std = _normalization(normalization, image_mean, image_std)
    settings: dict[str, Any] = dict(
        min_size=1024, max_size=1360, image_mean=mean, image_std=std,
        rpn_fg_iou_thresh=0.9, box_fg_iou_thresh=0.9,
        rpn_bg_iou_thresh=0.1, box_bg_iou_thresh=0.1,
        rpn_nms_thresh=0.8, box_nms_thresh=0.8, box_detections_per_img=200,
        box_roi_pool=MultiScaleRoIAlign(["0", "1"], output_size=21, sampling_ratio=2),
        rpn_anchor_generator=AnchorGenerator(sizes, ((1.0,),) * len(sizes)),
    )
    settings.update(overrides)
    model = FasterRCNN(_backbone(weights_backbone), num_classes=num_classes, **settings)
    return load_weights(model, weights, what="fasterrcnn_brecahad")

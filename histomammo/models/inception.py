"""Inception v3 as a fixed feature extractor for PCam (the seed's transfer-learning runs, 3.2.2).

torchvision's Inception v3 with both classifiers replaced, ``fc`` and ``AuxLogits.fc``
(section 3.2.2.3), and every other parameter frozen (the seed fine-tuned only the new layers: a
full fine-tune took an hour per epoch on its GPU). Inputs are 299x299 RGB normalised with the
ImageNet statistics: :func:`histomammo.transforms.augment.pcam.inception_transform`.

In training mode the model returns torchvision's ``InceptionOutputs(logits, aux_logits)``;
:func:`inception_loss` turns that into one loss. In eval mode it returns the logits.

Without an ImageNet file (nothing is downloaded) the backbone is random, and its BatchNorm
running statistics are the initial mean 0 and variance 1: in eval mode nothing is normalised,
the activations grow to about 1e6 by ``Mixed_7c`` and the softmax saturates to exactly 0 or 1
for every patch (AUC 0.5 whatever the head learnt; measured). :func:`calibrate_batchnorm`
estimates those statistics from training patches and then keeps them, which makes a random
frozen backbone a true fixed (random-feature) extractor: a plumbing check of the seed's
transfer setting, not a replacement for its ImageNet features.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn
from torchvision.models.inception import Inception3

from histomammo.models._pretrained import load_user_weights
from histomammo.models._registry import register_model

__all__ = [
    "IMAGENET_CLASSES", "InceptionV3Transfer", "calibrate_batchnorm", "inception_loss",
    "inception_v3_transfer",
]

IMAGENET_CLASSES = 1000


def _frozen_batchnorm_eval(model: nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d) and not any(
            p.requires_grad for p in module.parameters()
        ):
            module.eval()


class InceptionV3Transfer(Inception3):
    """torchvision's Inception3 whose frozen BatchNorm layers stay in eval mode when training.

    The seed called ``model.train()`` on its frozen network, so the BatchNorm running statistics
    of its "fixed" feature extractor kept drifting towards PCam's; a fixed feature extractor
    keeps them, so ``train()`` leaves BatchNorm layers without trainable parameters in eval.
    """

    #: set by :func:`inception_v3_transfer` when it loaded weights into a frozen backbone and
    #: by :func:`calibrate_batchnorm`: until then a random backbone's BatchNorm layers use
    #: batch statistics in training (their running statistics are the initial 0 and 1, which
    #: let the activations of an untrained network explode)
    keep_frozen_batchnorm_eval = False

    def train(self, mode: bool = True) -> InceptionV3Transfer:
        super().train(mode)
        if mode and self.keep_frozen_batchnorm_eval:
            _frozen_batchnorm_eval(self)
        return self


def _build(aux_logits: bool) -> InceptionV3Transfer:
    # transform_input=True: torchvision's ImageNet weights expect it (it maps ImageNet-normalised
    # input to the [-1, 1] scaling of the original Google weights)
    return InceptionV3Transfer(num_classes=IMAGENET_CLASSES, aux_logits=aux_logits,
                               transform_input=True, init_weights=True)


def _replace_classifiers(model: nn.Module, num_classes: int) -> None:
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    if model.AuxLogits is not None:
        model.AuxLogits.fc = nn.Linear(model.AuxLogits.fc.in_features, num_classes)


@register_model
def inception_v3_transfer(
    num_classes: int = 2,
    weights: str | os.PathLike[str] | None = None,
    freeze_backbone: bool = True,
    aux_logits: bool = True,
) -> InceptionV3Transfer:
    """torchvision Inception v3 with new ``fc`` and ``AuxLogits.fc``, backbone frozen.

    Parameters
    ----------
    num_classes : int
        Outputs of both new classifiers (2 for PCam: normal 0, tumour 1).
    weights : path or None
        A state dict saved with ``torch.save`` (or a Trainer checkpoint). From an ImageNet
        one (1000-class ``fc``, e.g. torchvision's ``inception_v3_google`` weights saved by
        you) the backbone is loaded and the new classifiers kept, which is the seed's
        ``pretrained=True``; one of this model (``num_classes`` outputs) loads entirely. ``None``: random initialisation. Nothing is
        ever downloaded.
    freeze_backbone : bool
        ``requires_grad=False`` on every parameter but the two new classifiers'. With
        ``weights`` given, the frozen BatchNorm layers also stay in eval mode while training
        (a truly fixed feature extractor); a random backbone keeps batch statistics until
        :func:`calibrate_batchnorm` gives it running statistics (call it before training).
    aux_logits : bool
        Keep the auxiliary classifier (the seed did).

    Returns
    -------
    InceptionV3Transfer
        A ``torchvision.models.Inception3``.

    Examples
    --------
    >>> model = inception_v3_transfer()
    >>> sorted({name.split(".")[0] for name, p in model.named_parameters() if p.requires_grad})
    ['AuxLogits', 'fc']
    """
    model = _build(aux_logits)
    _replace_classifiers(model, num_classes)
    if weights is not None:  # an ImageNet file's 1000-way heads are skipped, the rest loaded
        load_user_weights(model, weights, head=("fc", "AuxLogits"))
    if freeze_backbone:
        for name, parameter in model.named_parameters():
            parameter.requires_grad = name.startswith(("fc.", "AuxLogits.fc."))
        model.keep_frozen_batchnorm_eval = weights is not None
    return model


def _images(batch: Any) -> torch.Tensor:
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def _aux_fits(model: InceptionV3Transfer, images: torch.Tensor) -> bool:
    # the aux classifier's 5x5 pooling (stride 3) and 5x5 convolution need a 17x17 Mixed_6e
    # map, which 299x299 inputs give; smaller inputs can only be run in eval mode
    sides = []
    hook = model.Mixed_6e.register_forward_hook(
        lambda module, inputs, output: sides.append(output.shape[-1]))
    with torch.no_grad():
        model.eval()(images[:1])
    hook.remove()
    return sides[0] >= 17


def calibrate_batchnorm(
    model: InceptionV3Transfer, batches: torch.Tensor | Iterable[Any]
) -> int:
    """Set every BatchNorm's running statistics to those of ``batches``, then keep them.

    For a backbone without ImageNet weights (see the module's notes): one pass over the
    patches, each BatchNorm normalising with its batch's statistics (so each layer sees what
    the layers before it, already normalised, produce) and accumulating the exact average
    (``momentum=None``). The auxiliary classifier's two norms are calibrated too when the
    patches are large enough for it (299x299; it needs a 17x17 map), else left as they are
    (such inputs cannot train it either). Afterwards the model's frozen
    BatchNorm layers stay in eval mode while training, as with loaded weights. A data-dependent
    initialisation of the statistics only: no weight changes. Do not call it on a loaded
    ImageNet backbone, which has its own statistics.

    Parameters
    ----------
    model : InceptionV3Transfer
    batches : Tensor (N, 3, H, W) or iterable of Tensor or of (images, labels)
        Patches prepared as for training (:func:`~histomammo.transforms.augment.pcam.inception_transform`);
        a few dozen suffice.

    Returns
    -------
    int
        The number of BatchNorm layers calibrated: 94 (96 with the auxiliary classifier's).

    Examples
    --------
    >>> import torch
    >>> model = inception_v3_transfer(aux_logits=False)
    >>> calibrate_batchnorm(model, torch.rand(2, 3, 75, 75))
    94
    >>> model.train().Mixed_5b.branch1x1.bn.training
    False
    """
    stream = iter([batches] if isinstance(batches, torch.Tensor) else batches)
    first = next(stream, None)
    if first is None:
        raise ValueError("calibrate_batchnorm needs at least one batch of patches, but got none")
    aux = model.AuxLogits is not None and _aux_fits(model, _images(first))
    norms = [m for name, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)
             and (aux or not name.startswith("AuxLogits."))]
    was_training, momenta = model.training, [m.momentum for m in norms]
    model.eval()  # no dropout; the norms alone use batch statistics
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
        norm.train()

    def run_aux(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        model.AuxLogits(output)  # for its norms' statistics; Mixed_6e's output unchanged

    hook = model.Mixed_6e.register_forward_hook(run_aux) if aux else None
    try:
        with torch.no_grad():
            for batch in itertools.chain([first], stream):  # lazily: a loader may be long
                model(_images(batch))
    finally:
        if hook is not None:
            hook.remove()
    for norm, momentum in zip(norms, momenta, strict=True):
        norm.momentum = momentum
    model.keep_frozen_batchnorm_eval = True
    model.train(was_training)
    return len(norms)


def inception_loss(outputs: Any, targets: torch.Tensor, aux_weight: float = 0.4) -> torch.Tensor:
    """Cross-entropy of Inception's logits plus ``aux_weight`` times that of its aux logits.

    Parameters
    ----------
    outputs : InceptionOutputs, tuple or Tensor
        ``(logits, aux_logits)`` in training mode; a logits tensor ``(N, C)`` in eval mode (or
        with ``aux_logits=False``), whose plain cross-entropy is returned.
    targets : Tensor[N] of int64
    aux_weight : float
        0.4 is the weight of torchvision's reference training script (and of Szegedy et al.'s
        GoogLeNet, 0.3 per auxiliary head); the seed does not say how it combined the two
        outputs.

    Examples
    --------
    >>> import torch
    >>> logits, targets = torch.zeros(2, 2), torch.tensor([0, 1])
    >>> round(float(inception_loss((logits, logits), targets)), 4)
    0.9704
    """
    if isinstance(outputs, torch.Tensor):
        return nn.functional.cross_entropy(outputs, targets)
    logits, aux = outputs
    loss = nn.functional.cross_entropy(logits, targets)
    if aux is not None:
        loss = loss + aux_weight * nn.functional.cross_entropy(aux, targets)
    return loss

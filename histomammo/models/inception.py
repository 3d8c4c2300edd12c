"""Inception v3 as a fixed feature extractor for PCam (the seed's transfer-learning runs, 3.2.2).

torchvision's Inception v3 with both classifiers replaced, ``fc`` and ``AuxLogits.fc``
(section 3.2.2.3), and every other parameter frozen (the seed fine-tuned only the new layers: a
full fine-tune took an hour per epoch on its GPU). Inputs are 299x299 RGB normalised with the
ImageNet statistics: [`inception_transform`][histomammo.systems.pcam.inception_transform].

In training mode the model returns torchvision's ``InceptionOutputs(logits, aux_logits)``;
[`inception_loss`][histomammo.models.inception.inception_loss] turns that into one loss. In
eval mode it returns the logits.

Without an ImageNet file (nothing is downloaded) the backbone is random, and its BatchNorm
running statistics are the initial mean 0 and variance 1: in eval mode nothing is normalised,
the activations grow to about 1e6 by ``Mixed_7c`` and the softmax saturates to exactly 0 or 1
for every patch (AUC 0.5 whatever the head learnt; measured).
[`calibrate_batchnorm`][histomammo.models.calibration.calibrate_batchnorm]
estimates those statistics from training patches and then keeps them, which makes a random
frozen backbone a true fixed (random-feature) extractor: a plumbing check of the seed's
transfer setting, not a replacement for its ImageNet features.

Like timm's classifiers the model offers ``forward_features`` (the ``Mixed_7c`` map, 8x8 with
2048 channels at 299x299), ``forward_head``, ``get_classifier`` and ``reset_classifier`` (which
replaces both ``fc`` and ``AuxLogits.fc``, trainable).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torchvision.models.inception import Inception3

from histomammo.models._classifier import ClassifierMixin, new_classifier
from histomammo.models._registry import register_model
from histomammo.models._weights import Weights, load_weights

__all__ = ["IMAGENET_CLASSES", "InceptionV3Transfer", "inception_loss", "inception_v3_transfer"]

# Inception3's layers from the input to Mixed_7c, in forward order.
_BODY = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1",
         "Conv2d_4a_3x3", "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b",
         "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c")

IMAGENET_CLASSES = 1000


def _frozen_batchnorm_eval(model: nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d) and not any(
            p.requires_grad for p in module.parameters()
        ):
            module.eval()


class InceptionV3Transfer(ClassifierMixin, Inception3):
    """torchvision's Inception3 whose frozen BatchNorm layers stay in eval mode when training.

    The seed called ``model.train()`` on its frozen network, so the BatchNorm running statistics
    of its "fixed" feature extractor kept drifting towards PCam's; a fixed feature extractor
    keeps them, so ``train()`` leaves BatchNorm layers without trainable parameters in eval.
    """

    #: set by [`inception_v3_transfer`][histomammo.models.inception_v3_transfer] when it loaded
    #: weights into a frozen backbone and
    #: by [`calibrate_batchnorm`][histomammo.models.calibrate_batchnorm]: until then a random
    #: backbone's BatchNorm layers use
    #: batch statistics in training (their running statistics are the initial 0 and 1, which
    #: let the activations of an untrained network explode)
    keep_frozen_batchnorm_eval = False
    classifier_name = "fc"

    def train(self, mode: bool = True) -> InceptionV3Transfer:
        super().train(mode)
        if mode and self.keep_frozen_batchnorm_eval:
            _frozen_batchnorm_eval(self)
        return self

    def forward(self, x: torch.Tensor) -> Any:
        """torchvision's: ``InceptionOutputs(logits, aux_logits)`` in training, logits in eval."""
        return Inception3.forward(self, x)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The ``Mixed_7c`` map ``(N, 2048, h, w)`` (input transform included; no aux head)."""
        x = self._transform_input(x)
        for name in _BODY:
            x = getattr(self, name)(x)
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Global average pooling, dropout and ``fc``; ``pre_logits``: the pooled ``(N, 2048)``."""
        x = torch.flatten(self.dropout(self.avgpool(x)), 1)
        return x if pre_logits else self.fc(x)

    def reset_classifier(self, num_classes: int) -> None:
        """New ``fc`` and ``AuxLogits.fc`` with ``num_classes`` outputs (trainable)."""
        super().reset_classifier(num_classes)
        if self.AuxLogits is not None:
            self.AuxLogits.fc = new_classifier(self.AuxLogits.fc, num_classes)

    def calibration_branches(self) -> list[tuple[nn.Module, Callable[[torch.Tensor], Any]]]:
        """The auxiliary classifier, which the forward pass skips in eval mode, runs on
        ``Mixed_6e``'s output during batch-norm calibration when that is large enough (17x17,
        from 299x299 input)."""
        if self.AuxLogits is None:
            return []
        aux = self.AuxLogits
        return [(self.Mixed_6e, lambda out: aux(out) if min(out.shape[-2:]) >= 17 else None)]

    def on_calibrated(self) -> None:
        """After batch-norm calibration, frozen norms stay in eval mode while training."""
        self.keep_frozen_batchnorm_eval = True
        self.train(self.training)


def _build(aux_logits: bool) -> InceptionV3Transfer:
    # transform_input=True: torchvision's ImageNet weights expect it (it maps ImageNet-normalised
    # input to the [-1, 1] scaling of the original Google weights)
    return InceptionV3Transfer(num_classes=IMAGENET_CLASSES, aux_logits=aux_logits,
                               transform_input=True, init_weights=True)


def _replace_classifiers(model: InceptionV3Transfer, num_classes: int) -> None:
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    if model.AuxLogits is not None:
        model.AuxLogits.fc = nn.Linear(model.AuxLogits.fc.in_features, num_classes)


@register_model
def inception_v3_transfer(
    *,
    num_classes: int = 2,
    weights: Weights = None,
    freeze_backbone: bool = True,
    aux_logits: bool = True,
) -> InceptionV3Transfer:
    """torchvision Inception v3 with new ``fc`` and ``AuxLogits.fc``, backbone frozen.

    Parameters
    ----------
    num_classes : int
        Outputs of both new classifiers (2 for PCam: normal 0, tumour 1).
    weights : str, path, state dict or None
        A state dict saved with ``torch.save`` (or a Trainer checkpoint), read by
        [`load_weights`][histomammo.models._weights.load_weights]. From an ImageNet
        one (1000-class ``fc``, e.g. torchvision's ``inception_v3_google`` weights saved by
        you) the backbone is loaded and the new classifiers kept, which is the seed's
        ``pretrained=True``; one of this model (``num_classes`` outputs) loads entirely. ``None``: random initialisation. Nothing is
        ever downloaded.
    freeze_backbone : bool
        ``requires_grad=False`` on every parameter but the two new classifiers'. With
        ``weights`` given, the frozen BatchNorm layers also stay in eval mode while training
        (a truly fixed feature extractor); a random backbone keeps batch statistics until
        [`calibrate_batchnorm`][histomammo.models.calibration.calibrate_batchnorm] gives it running
        statistics (call it before training).
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
    # an ImageNet file's 1000-way heads are skipped, the rest loaded
    load_weights(model, weights, head=("fc", "AuxLogits"))
    if freeze_backbone:
        for name, parameter in model.named_parameters():
            parameter.requires_grad = name.startswith(("fc.", "AuxLogits.fc."))
        model.keep_frozen_batchnorm_eval = weights is not None
    return model


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

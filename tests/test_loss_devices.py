"""Every training loss follows its tensors' device (issue 20): run on the ``meta`` device, where a
tensor made on the CPU inside the loss would raise a device mismatch.

The other device sweeps sit beside their code: metrics on tensors that require grad and on
``meta`` (tests/metrics/test_devices.py), post-processing (tests/postprocess/
test_postprocess_devices.py), the mammography v2 transforms (tests/transforms/test_mammo.py),
stain normalisation (tests/transforms/stain/), models and calibration (tests/models/).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from histomammo.models import inception_loss
from histomammo.systems import glas, shen, thesis

META = torch.device("meta")


def _logits(n: int, classes: int) -> torch.Tensor:
    return torch.zeros(n, classes, device=META, requires_grad=True)


def _labels(n: int, classes: int) -> torch.Tensor:
    return torch.zeros(n, dtype=torch.int64, device=META)


CASES: dict[str, tuple[Callable[..., Any], Callable[[], tuple[Any, Any]]]] = {
    "thesis recipe loss (cross-entropy)": (
        thesis.recipe("alexnet").loss, lambda: (_logits(4, 2), _labels(4, 2))),
    "shen.batch_balanced_cross_entropy": (
        shen.batch_balanced_cross_entropy, lambda: (_logits(6, 5), _labels(6, 5))),
    "shen.BatchBalancedCrossEntropy": (
        shen.BatchBalancedCrossEntropy(), lambda: (_logits(6, 5), _labels(6, 5))),
    "glas.unet_loss": (
        glas.unet_loss, lambda: (torch.zeros(2, 1, 8, 8, device=META),
                                 {"mask": torch.ones(2, 8, 8, dtype=torch.uint8, device=META)})),
    "glas.unet_loss, mask tensor": (
        glas.unet_loss, lambda: (torch.zeros(2, 1, 8, 8, device=META),
                                 torch.ones(2, 8, 8, dtype=torch.uint8, device=META))),
    "models.inception_loss (with the aux head)": (
        inception_loss, lambda: ((_logits(4, 2), _logits(4, 2)), _labels(4, 2))),
    "models.inception_loss (eval output)": (
        inception_loss, lambda: (_logits(4, 2), _labels(4, 2))),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_loss_follows_its_tensors_device(name):
    loss_fn, make = CASES[name]
    outputs, targets = make()
    loss = loss_fn(outputs, targets)
    assert loss.device == META and loss.dim() == 0


def test_meta_catches_a_cpu_tensor_made_inside():
    """The sweep can fail: a loss that makes its weights on the CPU raises on ``meta``."""

    def careless(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.cross_entropy(logits, targets, weight=torch.ones(2))

    with pytest.raises((RuntimeError, NotImplementedError)):
        careless(_logits(4, 2), _labels(4, 2))

"""Helpers shared by the two mammography systems (the thesis and Shen et al.)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from histomammo.metrics.classification import accuracy, roc_auc

__all__ = ["accuracy_metric", "auc_metric", "positive_scores", "predict_scores", "synthetic_root"]


def positive_scores(logits: torch.Tensor) -> np.ndarray:
    """``softmax(logits)[:, 1]`` as float numpy, ``(N, 2) -> (N,)`` (any device)."""
    return torch.softmax(logits.detach().float(), dim=1)[:, 1].cpu().numpy()


def accuracy_metric(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Accuracy at the arg-max of two logits, for ``Trainer.fit(metrics=...)``."""
    return accuracy(positive_scores(outputs), targets)


def auc_metric(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """ROC AUC of the positive class; NaN when the targets hold one class only."""
    try:
        return roc_auc(positive_scores(outputs), targets)
    except ValueError:  # a validation set with one class only
        return float("nan")


def synthetic_root(out: Path, layout: str) -> Path:
    """A fresh folder in ``out`` for a synthetic ``layout`` tree (``"inbreast"``, ...)."""
    return Path(tempfile.mkdtemp(prefix=f"synthetic_{layout}_", dir=out))


def predict_scores(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 32) -> np.ndarray:
    """Positive-class scores of ``model`` (eval mode) on ``x`` ``(N, C, H, W)``, in batches."""
    model.eval()
    device = next(model.parameters()).device
    with torch.no_grad():
        return np.concatenate([positive_scores(model(batch.to(device)))
                               for batch in x.split(batch_size)])

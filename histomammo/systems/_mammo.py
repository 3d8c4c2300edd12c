"""Helpers shared by the two mammography systems (the thesis and Shen et al.)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from histomammo.datasets._mammo_headers import read_header
from histomammo.metrics.classification import accuracy, roc_auc

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["accuracy_metric", "auc_metric", "positive_scores", "predict_scores", "save_closed",
           "stored_to_unit", "synthetic_root"]


def save_closed(figure: Figure, path: str | os.PathLike[str], *, dpi: int = 100) -> Path:
    """Save a ``plot_*`` figure (tight, atomic) and close it: the workflows keep no figure open."""
    import matplotlib.pyplot as plt

    from histomammo.plot import save_figure

    try:
        return save_figure(figure, path, dpi=dpi, tight=True)
    finally:
        plt.close(figure)


def stored_to_unit(pixels: np.ndarray, path: str | os.PathLike[str]) -> np.ndarray:
    """Stored integers of the DICOM file ``path`` mapped linearly to float32 in [0, 1].

    The range is the one Bits Stored and Pixel Representation allow (``[0, 2**bits - 1]``
    unsigned, ``[-2**(bits-1), 2**(bits-1) - 1]`` signed), read from the header alone, so
    every image of a release keeps its intensities comparable (no per-image window).
    ``pixels`` may be any part of the image (a crop, patches) of any shape.

    Examples
    --------
    >>> import tempfile
    >>> from histomammo.datasets.synthetic.dicom import write_dicom
    >>> path = Path(tempfile.mkdtemp()) / "a.dcm"
    >>> _ = write_dicom(path, np.full((4, 4), 4095, np.uint16), bits_stored=12)
    >>> stored_to_unit(np.array([0, 4095], np.int32), path).tolist()
    [0.0, 1.0]
    """
    header = read_header(Path(path), ["BitsStored", "PixelRepresentation"])
    bits = int(header.BitsStored)
    low = -(2 ** (bits - 1)) if int(header.get("PixelRepresentation", 0)) == 1 else 0
    high = low + 2**bits - 1
    return ((np.asarray(pixels, np.float64) - low) / (high - low)).astype(np.float32)


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

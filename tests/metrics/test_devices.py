"""Every metric takes tensors as a model gives them (requiring grad) and numpy alike, with the
same Python numbers out; a ``meta`` tensor (shapes, no values) is refused with a clear error
rather than copied silently. CUDA tensors go through the same one converter
(``metrics._convert.to_numpy``: detach, then ``.cpu()``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import histomammo.metrics as metrics
from histomammo.errors import DataFormatError
from histomammo.metrics import classification, detection, segmentation

_RNG = np.random.default_rng(0)
_Y = np.r_[np.zeros(20, np.int64), np.ones(20, np.int64)]
_LOGITS = np.stack([_RNG.normal(size=40), _RNG.normal(size=40) + _Y], axis=1)
_SCORES = _RNG.random(40) + 0.3 * _Y


def _labels(seed: int) -> np.ndarray:
    image = np.zeros((24, 24), np.int64)
    r = np.random.default_rng(seed)
    for k, (y, x) in enumerate(r.integers(0, 18, (4, 2)), start=1):
        image[y:y + 6, x:x + 6] = k
    return image


_PREDS_SEG, _TARGETS_SEG = [_labels(1), _labels(2)], [_labels(3), _labels(2)]
_BOXES = [{"boxes": np.array([[0.0, 0, 10, 10], [20, 20, 30, 30], [1, 1, 11, 12]]),
           "scores": np.array([0.9, 0.4, 0.7]), "labels": np.array([1, 1, 1])}]
_GT_BOXES = [{"boxes": np.array([[1.0, 1, 11, 11], [40, 40, 50, 50]]),
              "labels": np.array([1, 1])}]

# metric -> arguments (numpy leaves are converted to tensors by the tests)
CASES = {
    "roc_curve": (_LOGITS, _Y),
    "roc_auc": (_LOGITS, _Y),
    "accuracy": (_LOGITS, _Y),
    "sensitivity_specificity": (_SCORES, _Y, 0.6),
    "threshold_at_sensitivity": (_LOGITS, _Y),
    "specificity_at_sensitivity": (_LOGITS, _Y, _SCORES, _Y),
    "aggregate_views": (_SCORES, np.arange(40) // 2, "max"),
    "bootstrap_ci": (classification.roc_auc, _LOGITS, _Y),
    "rates_vs_threshold": (_BOXES, _GT_BOXES, np.array([0.1, 0.5])),
    "average_precision": (_BOXES, _GT_BOXES),
    "detection_counts": (_BOXES, _GT_BOXES),
    "glas_metrics": (_PREDS_SEG, _TARGETS_SEG),
    "object_f1": (_PREDS_SEG, _TARGETS_SEG),
    "object_dice": (_PREDS_SEG, _TARGETS_SEG),
    "object_hausdorff": (_PREDS_SEG, _TARGETS_SEG),
    "count_score": (_PREDS_SEG, _TARGETS_SEG),
    "pixel_dice": (_PREDS_SEG, _TARGETS_SEG),
}


def _convert(value, device="cpu"):
    """Numpy leaves to tensors on ``device``; float ones require grad, as model outputs do."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "fiub":
        tensor = torch.from_numpy(value).to(device)
        return tensor.requires_grad_(True) if tensor.is_floating_point() else tensor
    if isinstance(value, list):
        return [_convert(v, device) for v in value]
    if isinstance(value, dict):
        return {k: _convert(v, device) for k, v in value.items()}
    return value


def _same(a, b):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _same(a[key], b[key])
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b)
    else:
        assert type(a) is type(b) and a == pytest.approx(b, abs=1e-12)


def test_every_metric_is_swept():
    public = set()
    for module in (classification, detection, segmentation):
        public |= {n for n in module.__all__ if callable(getattr(module, n))}
    assert public == set(CASES)
    assert set(CASES) <= set(metrics.__all__)


@pytest.mark.parametrize("name", sorted(CASES))
def test_tensors_requiring_grad(name):
    fn = getattr(metrics, name)
    expected = fn(*CASES[name])
    got = fn(*_convert(list(CASES[name])))
    _same(got, expected)
    scalars = got.values() if isinstance(got, dict) else [got]
    assert all(isinstance(v, (float, int, np.ndarray)) for v in scalars)


@pytest.mark.parametrize("name", sorted(CASES))
def test_meta_tensors_are_refused(name):
    fn = getattr(metrics, name)
    with pytest.raises(DataFormatError, match="'meta' device"):
        fn(*_convert(list(CASES[name]), "meta"))


def test_half_precision_outputs_as_amp_gives_them():
    logits = torch.from_numpy(_LOGITS)
    for dtype in (torch.float16, torch.bfloat16):
        low = logits.to(dtype).requires_grad_(True)
        expected = metrics.roc_auc(low.detach().double().numpy(), _Y)
        assert metrics.roc_auc(low, torch.from_numpy(_Y)) == expected

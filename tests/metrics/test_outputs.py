"""Classification metrics take model outputs as they come: (N,) scores, (N, 2) logits or
probabilities (softmax, ``from_logits=``), (N, C) for accuracy (arg-max)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import softmax
from sklearn import metrics as skm
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from histomammo.metrics.classification import (
    accuracy,
    aggregate_views,
    roc_auc,
    roc_curve,
    sensitivity_specificity,
    specificity_at_sensitivity,
    threshold_at_sensitivity,
)


def _logits(rng, n=400):
    """Two-logit outputs whose column 1 alone ranks differently from the softmax."""
    y = rng.integers(0, 2, n)
    difference = rng.normal(1.2 * y, 1.0)  # what separates the classes: l1 - l0
    common = rng.normal(0, 3.0, n)  # shifts both logits: no effect on the softmax
    return np.stack([common, common + difference], axis=1), y


def test_roc_auc_of_logits_is_the_auc_of_their_softmax(rng):
    logits, y = _logits(rng)
    probability = softmax(logits, axis=1)[:, 1]
    expected = skm.roc_auc_score(y, probability)
    assert roc_auc(logits, y) == pytest.approx(expected, abs=1e-12)
    assert roc_auc(probability, y) == pytest.approx(expected, abs=1e-12)
    assert roc_auc(torch.from_numpy(logits).float(), torch.from_numpy(y)) == pytest.approx(
        expected, abs=1e-6)
    # the old reading (column 1 of the logits) is far off on these outputs
    assert abs(roc_auc(logits[:, 1], y) - expected) > 0.1


def test_from_logits_default_and_overrides(rng):
    logits, y = _logits(rng, 50)
    probabilities = softmax(logits, axis=1)
    # probabilities (rows in [0, 1] summing to 1) are used as given, logits are softmaxed
    curve_p = roc_curve(probabilities, y)
    assert set(curve_p["thresholds"][1:]) <= set(probabilities[:, 1])
    assert roc_curve(logits, y)["thresholds"].tolist() == curve_p["thresholds"].tolist()
    assert threshold_at_sensitivity(logits, y) == threshold_at_sensitivity(probabilities, y)
    # from_logits=False takes column 1 as it is; True softmaxes probabilities again
    assert threshold_at_sensitivity(logits, y, from_logits=False) in logits[:, 1]
    again = softmax(probabilities, axis=1)[:, 1]
    assert threshold_at_sensitivity(probabilities, y, from_logits=True) in again
    # (N,) scores: as given, or their sigmoid with from_logits=True
    scores = logits[:, 1] - logits[:, 0]
    assert sensitivity_specificity(scores, y, 0.0) == sensitivity_specificity(
        scores, y, 0.5, from_logits=True)


def test_accuracy_uses_the_arg_max_of_n_by_c(rng):
    outputs = rng.normal(size=(200, 5))
    y = rng.integers(0, 5, 200)
    expected = skm.accuracy_score(y, outputs.argmax(axis=1))
    assert accuracy(outputs, y) == pytest.approx(expected)
    assert accuracy(torch.from_numpy(outputs), torch.from_numpy(y)) == pytest.approx(expected)
    logits, y2 = _logits(rng)
    assert accuracy(logits, y2) == pytest.approx(skm.accuracy_score(y2, logits.argmax(1)))
    # a threshold on the two-way softmax (the thesis's T-Acc)
    p = softmax(logits, axis=1)[:, 1]
    assert accuracy(logits, y2, 0.7) == pytest.approx(skm.accuracy_score(y2, p >= 0.7))
    with pytest.raises(ValueError, match=r"class indices in \[0, 5\)"):
        accuracy(outputs, np.full(200, 5))


def test_several_numbers_come_back_as_dicts(rng):
    logits, y = _logits(rng, 100)
    pair = sensitivity_specificity(logits, y, 0.5)
    assert set(pair) == {"sensitivity", "specificity"}
    assert all(isinstance(v, float) for v in pair.values())
    p = softmax(logits, axis=1)[:, 1]
    assert pair["sensitivity"] == pytest.approx(skm.recall_score(y, p >= 0.5))
    row = specificity_at_sensitivity(logits, y, logits, y)
    assert row == specificity_at_sensitivity(p, y, p, y)
    views = aggregate_views(logits, np.arange(100) // 2, targets=np.repeat(y[::2], 2))
    np.testing.assert_allclose(views["scores"], p.reshape(50, 2).mean(axis=1))


def test_binary_metrics_refuse_more_than_two_columns():
    with pytest.raises(ValueError, match=r"\(N,\) or \(N, 2\) for a binary metric"):
        roc_auc(np.zeros((2, 3)), [0, 1])


def test_docs_engine_example_gives_the_softmax_auc():
    """``Trainer(...).fit/evaluate(metrics={"auc": roc_auc})`` as docs/engine.md shows it."""
    from histomammo.engine import Trainer

    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 6, generator=g)
    y = (x[:, 0] + 0.5 * torch.randn(256, generator=g) > 0).long()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 2))
    with torch.no_grad():  # a large common shift: column 1 alone misranks the samples
        model[0].weight[:, 1] += 3.0
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.05),
                      nn.CrossEntropyLoss(), device="cpu", seed=0, progress=False)
    loader = DataLoader(TensorDataset(x, y), batch_size=64)
    history = trainer.fit(loader, epochs=2, val_loader=loader, metrics={"auc": roc_auc})
    scores = trainer.evaluate(loader, metrics={"auc": roc_auc})
    with torch.no_grad():
        logits = model(x)
    expected = roc_auc(torch.softmax(logits, dim=1)[:, 1], y)
    assert scores["auc"] == pytest.approx(expected, abs=1e-9)
    assert history[-1]["val_auc"] == pytest.approx(expected, abs=1e-9)
    assert expected == pytest.approx(skm.roc_auc_score(y.numpy(), torch.softmax(
        logits, 1)[:, 1].numpy()), abs=1e-9)
    assert abs(roc_auc(logits[:, 1], y) - expected) > 0.05  # what the old reading gave

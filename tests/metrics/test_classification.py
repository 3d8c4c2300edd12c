"""Tests for histomammo.metrics.classification (ROC/AUC against scikit-learn, the thesis's
specificity measure, view aggregation, bootstrap)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from histomammo.metrics.classification import (
    accuracy,
    aggregate_views,
    bootstrap_ci,
    roc_auc,
    roc_curve,
    sensitivity_specificity,
    specificity_at_sensitivity,
    threshold_at_sensitivity,
)


def _tied_data(rng, n=300):
    labels = rng.integers(0, 2, n)
    # rounded scores: many ties, within and across classes
    scores = np.round(rng.random(n) * 0.6 + 0.3 * labels, 1)
    return scores, labels


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("drop", [True, False])
def test_roc_curve_matches_sklearn(seed, drop):
    scores, labels = _tied_data(np.random.default_rng(seed))
    ours = roc_curve(scores, labels, drop_intermediate=drop)
    fpr, tpr, thr = skm.roc_curve(labels, scores, drop_intermediate=drop)
    np.testing.assert_allclose(ours["fpr"], fpr)
    np.testing.assert_allclose(ours["tpr"], tpr)
    np.testing.assert_array_equal(ours["thresholds"], thr)


@pytest.mark.parametrize("seed", range(5))
def test_roc_auc_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    scores, labels = _tied_data(rng)
    assert roc_auc(scores, labels) == pytest.approx(skm.roc_auc_score(labels, scores), abs=1e-12)
    continuous = rng.normal(size=200)
    y = rng.integers(0, 2, 200)
    assert roc_auc(continuous, y) == pytest.approx(skm.roc_auc_score(y, continuous), abs=1e-12)


def test_roc_auc_torch_and_two_column_input():
    rng = np.random.default_rng(1)
    scores, labels = _tied_data(rng)
    two = np.stack([1 - scores, scores], axis=1)
    expected = skm.roc_auc_score(labels, scores)
    assert roc_auc(torch.from_numpy(two), torch.from_numpy(labels)) == pytest.approx(expected)
    assert isinstance(roc_auc(scores, labels), float)


def test_roc_auc_mann_whitney_ties_count_half():
    assert roc_auc([1.0, 1.0, 1.0], [0, 1, 1]) == 0.5
    assert roc_auc([0.0, 1.0], [0, 1]) == 1.0
    assert roc_auc([1.0, 0.0], [0, 1]) == 0.0


@pytest.mark.parametrize(
    ("scores", "labels", "match"),
    [
        ([0.1, 0.2], [1, 1], "every label is positive"),
        ([0.1, 0.2], [0, 1, 1], "shape"),
        ([0.1, np.nan], [0, 1], "NaN"),
        ([0.1, 0.2], [0, 2], "0 or 1"),
        (np.zeros((2, 3)), [0, 1], r"\(N,\) or \(N, 2\)"),
        (["a", "b"], [0, 1], "numeric"),
    ],
)
def test_exception(scores, labels, match):
    with pytest.raises(ValueError, match=match):
        roc_auc(scores, labels)


def test_accuracy_matches_sklearn(rng):
    scores = rng.random(100)
    labels = rng.integers(0, 2, 100)
    expected = skm.accuracy_score(labels, scores >= 0.5)
    assert accuracy(scores, labels) == pytest.approx(expected)
    assert accuracy(scores, labels, threshold=0.0) == pytest.approx(labels.mean())


@pytest.mark.parametrize("target", [0.5, 0.8, 0.9, 0.95, 1.0])
@pytest.mark.parametrize("n_pos", [1, 7, 10, 30, 101])
def test_threshold_reaches_sensitivity_and_is_highest(target, n_pos):
    rng = np.random.default_rng(n_pos)
    scores = np.r_[rng.random(n_pos), rng.random(50)]
    labels = np.r_[np.ones(n_pos, int), np.zeros(50, int)]
    t = threshold_at_sensitivity(scores, labels, target)
    sen = sensitivity_specificity(scores, labels, t)["sensitivity"]
    assert sen >= target - 1e-12
    # the next positive score above t would miss the target: t is the highest such threshold
    above = np.sort(scores[labels == 1][scores[labels == 1] > t])
    if above.size:
        sen_above = sensitivity_specificity(scores, labels, above[0])["sensitivity"]
        assert sen_above < target
    # the quantile rule: the ceil(n P)-th largest positive score
    k = math.ceil(target * n_pos - 1e-9)
    assert t == np.sort(scores[:n_pos])[::-1][k - 1]


def test_threshold_with_ties_still_reaches_sensitivity():
    scores = [0.5] * 10 + [0.1] * 5
    labels = [1] * 10 + [0] * 5
    assert threshold_at_sensitivity(scores, labels, 0.9) == 0.5


def test_specificity_at_sensitivity_row():
    rng = np.random.default_rng(3)
    val_y, test_y = rng.integers(0, 2, 400), rng.integers(0, 2, 400)
    val_s = np.clip(rng.normal(0.4 + 0.2 * val_y, 0.15), 0, 1)
    test_s = np.clip(rng.normal(0.4 + 0.2 * test_y, 0.15), 0, 1)
    row = specificity_at_sensitivity(val_s, val_y, test_s, test_y)
    assert set(row) == {
        "threshold", "val_auc", "val_specificity", "test_auc", "test_sensitivity",
        "test_specificity", "test_accuracy", "test_threshold_accuracy",
    }
    t = row["threshold"]
    val = sensitivity_specificity(val_s, val_y, t)
    val_sen, val_spec = val["sensitivity"], val["specificity"]
    assert val_sen >= 0.9
    assert row["val_specificity"] == val_spec
    assert row["val_auc"] == pytest.approx(skm.roc_auc_score(val_y, val_s))
    assert row["test_auc"] == pytest.approx(skm.roc_auc_score(test_y, test_s))
    assert row["test_sensitivity"] == pytest.approx(skm.recall_score(test_y, test_s >= t))
    assert row["test_specificity"] == pytest.approx(
        skm.recall_score(1 - test_y, test_s < t)
    )
    assert row["test_accuracy"] == pytest.approx(skm.accuracy_score(test_y, test_s >= 0.5))
    assert row["test_threshold_accuracy"] == pytest.approx(skm.accuracy_score(test_y, test_s >= t))
    assert all(isinstance(v, float) for v in row.values())


@pytest.mark.parametrize(("how", "fn"), [("mean", np.mean), ("max", np.max), ("min", np.min)])
def test_aggregate_views(how, fn, rng):
    groups = rng.integers(0, 40, 150).astype(str)
    scores = rng.random(150)
    breast_label = rng.integers(0, 2, 40)
    labels = breast_label[groups.astype(int)]
    out = aggregate_views(torch.from_numpy(scores), groups, how=how, targets=labels)
    for g, s, y in zip(out["groups"], out["scores"], out["labels"], strict=True):
        assert s == pytest.approx(fn(scores[groups == g]))
        assert y == breast_label[int(g)]
    assert out["groups"].tolist() == sorted(set(groups.tolist()))


def test_aggregate_views_exception():
    with pytest.raises(ValueError, match="how must be"):
        aggregate_views([0.1], ["a"], how="median")
    with pytest.raises(ValueError, match="labels differ"):
        aggregate_views([0.1, 0.2], ["a", "a"], targets=[0, 1])
    with pytest.raises(ValueError, match="groups must have shape"):
        aggregate_views([0.1, 0.2], ["a"])


def test_bootstrap_ci_covers_and_is_reproducible(rng):
    labels = rng.integers(0, 2, 300)
    scores = rng.normal(labels * 1.0, 1.0)
    ci = bootstrap_ci(roc_auc, scores, labels, n=300, seed=1)
    assert ci == bootstrap_ci(roc_auc, scores, labels, n=300, seed=1)
    assert ci["low"] < ci["estimate"] < ci["high"]
    assert ci["estimate"] == pytest.approx(skm.roc_auc_score(labels, scores))
    # normal-theory width of an AUC near 0.76 with 300 samples is about +-0.055
    assert 0.06 < ci["high"] - ci["low"] < 0.16
    assert ci["n_valid"] == 300


def test_bootstrap_ci_groups_resample_patients(rng):
    # 40 patients with 10 identical images each: resampling images would pretend 400
    # independent samples and give a much narrower interval than resampling patients
    patient_label = np.r_[np.zeros(20, int), np.ones(20, int)]
    patient_score = rng.normal(patient_label * 0.8, 1.0)
    groups = np.repeat(np.arange(40), 10)
    scores, labels = patient_score[groups], patient_label[groups]
    by_image = bootstrap_ci(roc_auc, scores, labels, n=300)
    by_patient = bootstrap_ci(roc_auc, scores, labels, n=300, groups=groups)
    assert by_patient["estimate"] == by_image["estimate"]
    assert (by_patient["high"] - by_patient["low"]) > 2 * (by_image["high"] - by_image["low"])


def test_bootstrap_ci_exception():
    with pytest.raises(ValueError, match="first dimension"):
        bootstrap_ci(roc_auc, [0.1, 0.2], [0])
    with pytest.raises(ValueError, match="undefined on"):
        bootstrap_ci(roc_auc, [0.5], [1], n=100)
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci(roc_auc, [0.1, 0.2], [0, 1], confidence=1.5)

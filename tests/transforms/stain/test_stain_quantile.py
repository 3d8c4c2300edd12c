"""Row quantiles of the stain methods against ``numpy.percentile``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from histomammo.transforms.stain._quantile import quantile


@pytest.mark.parametrize("length", [1, 7, 9216, 300_000])
@pytest.mark.parametrize("q", [0.0, 0.01, 0.5, 0.99, 1.0])
@pytest.mark.parametrize("discrete", [False, True])
def test_matches_numpy_percentile(length, q, discrete):
    rng = np.random.default_rng(length)
    values = rng.normal(size=(3, length))
    values = np.round(values * 20) if discrete else values  # ties, as uint8 images give
    mask = rng.random((3, length)) < [[1.0], [0.3], [0.0]]
    mask[0] = True
    out = quantile(torch.from_numpy(values), q, torch.from_numpy(mask)).numpy()
    expected = [np.percentile(v[m], 100 * q) if m.any() else 0.0 for v, m in zip(values, mask, strict=True)]
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-12)
    unmasked = quantile(torch.from_numpy(values), q).numpy()
    np.testing.assert_allclose(unmasked, np.percentile(values, 100 * q, axis=1), rtol=0, atol=1e-12)


def test_sorted_rows_use_the_fallback_exactly():
    """An adversarial row (the strided sample sees only one value) still gives the exact answer."""
    values = torch.zeros(1, 1 << 17, dtype=torch.float64)
    values[0, 1::2] = torch.arange(1 << 16, dtype=torch.float64)
    expected = np.percentile(values.numpy(), [1, 99], axis=1)[:, 0]
    assert [float(quantile(values, q)[0]) for q in (0.01, 0.99)] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("length", [7, 9216, 1 << 17])
@pytest.mark.parametrize("q", [0.0, 0.01, 0.99, 1.0])
def test_torch_selection_of_other_devices_matches_numpy(monkeypatch, length, q):
    """Off the CPU, short rows go through ``topk`` and long ones the sample-bracketed selection."""
    from histomammo.transforms.stain import _quantile

    monkeypatch.setattr(_quantile, "_selected", lambda *args: None)
    rng = np.random.default_rng(1)
    values = np.round(rng.normal(size=(3, length)) * 20)
    mask = rng.random(values.shape) < [[1.0], [0.3], [0.0]]
    out = quantile(torch.from_numpy(values), q, torch.from_numpy(mask)).numpy()
    expected = [np.percentile(v[m], 100 * q) if m.any() else 0.0 for v, m in zip(values, mask, strict=True)]
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("length", [9216, 300_000])
def test_several_quantiles_at_once(length):
    rng = np.random.default_rng(2)
    values = torch.from_numpy(rng.normal(size=(4, length)).astype(np.float32))
    mask = torch.from_numpy(rng.random((4, length)) < 0.5)
    both = quantile(values, (0.99, 0.01, 0.5), mask)
    assert both.shape == (4, 3)
    for i, q in enumerate((0.99, 0.01, 0.5)):
        torch.testing.assert_close(both[:, i], quantile(values, q, mask), rtol=0, atol=0)
    expected = [np.percentile(v[m], [99, 1, 50]) for v, m in zip(values.numpy(), mask.numpy(), strict=True)]
    np.testing.assert_allclose(both.numpy(), expected, rtol=0, atol=1e-5)

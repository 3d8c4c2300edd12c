"""histomammo.datasets.stats: streamed per-channel mean and std equal numpy's."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from histomammo.datasets import PCam, compute_mean_std
from histomammo.datasets.synthetic import make_pcam


def test_matches_numpy_on_pcam(tmp_path):
    root = make_pcam(tmp_path, 37, seed=0, splits=["valid"], progress=False)
    data = PCam(root, "valid")
    mean, std = compute_mean_std(data, batch_size=8, progress=False)  # 5 uneven batches
    pixels = data.images[:].astype(np.float64) / 255
    np.testing.assert_allclose(mean, pixels.mean(axis=(0, 1, 2)), rtol=1e-12)
    np.testing.assert_allclose(std, pixels.std(axis=(0, 1, 2)), rtol=1e-10)
    assert mean.shape == std.shape == (3,) and mean.dtype == np.float64


def test_numerically_stable():
    """A large offset with a tiny spread: the naive E[x^2] - E[x]^2 loses it all."""
    rng = np.random.default_rng(0)
    values = 1e8 + rng.standard_normal((64, 2, 8, 8))
    mean, std = compute_mean_std(TensorDataset(torch.from_numpy(values)), batch_size=5,
                                 progress=False)
    np.testing.assert_allclose(mean, values.mean(axis=(0, 2, 3)), rtol=1e-14)
    np.testing.assert_allclose(std, values.std(axis=(0, 2, 3)), rtol=1e-6)
    _, sample_std = compute_mean_std(TensorDataset(torch.from_numpy(values)), ddof=1,
                                     progress=False)
    np.testing.assert_allclose(sample_std, values.transpose(1, 0, 2, 3).reshape(2, -1)
                               .std(axis=1, ddof=1), rtol=1e-6)


def test_bad_input():
    with pytest.raises(TypeError, match=r"\(C, H, W\) image"):
        compute_mean_std(TensorDataset(torch.zeros(4, 3)), progress=False)
    with pytest.raises(ValueError, match="more than"):
        compute_mean_std(TensorDataset(torch.zeros(0, 3, 2, 2)), progress=False)

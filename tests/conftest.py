"""Shared pytest fixtures. Tests run on CPU, deterministically, with no network."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    """A fixed-seed generator; tests never touch numpy's global RNG."""
    return np.random.default_rng(0)


@pytest.fixture
def one_thread():
    """Small convolutions on a shared 2-core machine run fastest on one thread (about 6x)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

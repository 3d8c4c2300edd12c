"""Shared pytest fixtures. Tests run on CPU, deterministically, with no network."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    """A fixed-seed generator; tests never touch numpy's global RNG."""
    return np.random.default_rng(0)

"""Fixtures of the stain tests: real stained tissue and its concentration maps (``stain_cases``)."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.data import immunohistochemistry
from stain_cases import concentrations


@pytest.fixture(scope="session")
def ihc() -> np.ndarray:
    """scikit-image's real IHC section (haematoxylin + DAB), 512x512 uint8 RGB."""
    return immunohistochemistry()


@pytest.fixture(scope="session")
def mixed_concentrations(ihc) -> np.ndarray:
    return concentrations(ihc, 0.5)


@pytest.fixture(scope="session")
def pure_concentrations(ihc) -> np.ndarray:
    return concentrations(ihc, 1.0)

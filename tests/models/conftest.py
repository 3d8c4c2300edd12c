"""Fixtures of the model tests."""

from __future__ import annotations

import pytest

from histomammo.engine._rng import capture_rng_state, restore_rng_state


@pytest.fixture
def one_thread_own_rng(one_thread):
    """One torch thread (``tests/conftest.py``'s ``one_thread``) and the global RNG state
    restored afterwards, for learning tests."""
    saved = capture_rng_state()
    yield
    restore_rng_state(saved)


@pytest.fixture
def inception_patches():
    """``patches(root, split, size) -> (images (N, 3, size, size), labels (N,))``: a PCam
    split through ``inception_transform(size)``, stacked."""
    import torch

    from histomammo.datasets import PCam
    from histomammo.systems.pcam import inception_transform

    def patches(root, split, size):
        dataset = PCam(root, split, transform=inception_transform(size))
        images, labels = zip(*(dataset[i] for i in range(len(dataset))), strict=True)
        return torch.stack(images), torch.as_tensor(labels)

    return patches

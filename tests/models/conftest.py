"""Fixtures of the model tests."""

from __future__ import annotations

import pytest
import torch

from histomammo.engine._rng import capture_rng_state, restore_rng_state


@pytest.fixture
def one_thread_own_rng():
    """One torch thread and the global RNG state restored afterwards, for learning tests.

    One thread: on a shared 2-core machine two threads per process are many times slower.
    """
    threads, saved = torch.get_num_threads(), capture_rng_state()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    restore_rng_state(saved)

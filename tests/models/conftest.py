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

"""The generator states a checkpoint stores: compact, exact, and readable in the old layout."""

import random

import numpy as np
import torch

from histomammo.engine._rng import capture_rng_state, restore_rng_state


def _draws() -> tuple:
    return random.random(), np.random.random(), torch.rand(1).item()  # noqa: NPY002


def test_python_state_is_one_tensor_and_restores_exactly():
    saved = capture_rng_state()
    version, internal, _ = saved["python"]
    assert isinstance(internal, torch.Tensor) and internal.dtype == torch.int64
    assert internal.numel() == len(random.getstate()[1])  # 625 words: one tensor, not 625 ints
    expected = _draws()
    restore_rng_state(saved)
    assert _draws() == expected


def test_python_state_as_a_tuple_from_earlier_checkpoints_still_restores():
    saved = capture_rng_state()
    version, internal, gauss_next = saved["python"]
    saved["python"] = (version, tuple(internal.tolist()), gauss_next)  # the earlier layout
    expected = _draws()
    restore_rng_state(saved)
    assert _draws() == expected

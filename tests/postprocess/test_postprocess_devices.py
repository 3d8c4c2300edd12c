"""Every post-processing function takes tensors and gives tensors back on their device; on the
``meta`` device (no values) the numpy/scipy steps refuse clearly, the torch one computes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import histomammo.postprocess as postprocess
from histomammo.errors import DataFormatError


def _labels() -> np.ndarray:
    labels = np.zeros((13, 27), np.int64)
    labels[1:12, 1:12] = 5
    labels[1:12, 15:26] = 5
    labels[6, 12:15] = 5  # a dumbbell: split_weak_connections cuts it
    labels[5, 5] = 0  # a hole
    labels[0, 26] = 9  # a one-pixel object
    return labels


def _probabilities() -> np.ndarray:
    return np.where(_labels() > 0, 0.9, 0.1).astype(np.float32)


# name -> (input as numpy, keyword arguments); the image steps only
IMAGE_STEPS = {
    "fill_holes": (_labels, {}),
    "remove_small_objects": (_labels, {"min_size": 2}),
    "split_weak_connections": (_labels, {"h": 1.0}),
    "probabilities_to_instances": (_probabilities, {"min_size": 2, "fill": True, "split": True}),
}


def test_every_public_function_is_swept():
    functions = {n for n in postprocess.__all__ if callable(getattr(postprocess, n))
                 and not isinstance(getattr(postprocess, n), type(postprocess))}
    assert functions == {*IMAGE_STEPS, "suppress_duplicates", "maskrcnn_instances"}


@pytest.mark.parametrize("name", sorted(IMAGE_STEPS))
def test_tensor_in_tensor_out(name):
    make, kwargs = IMAGE_STEPS[name]
    function = getattr(postprocess, name)
    array = make()
    tensor = torch.from_numpy(array)
    if tensor.is_floating_point():
        tensor.requires_grad_(True)  # a model's output, straight from the forward pass
    out = function(tensor, **kwargs)
    expected = function(array, **kwargs)
    assert isinstance(out, torch.Tensor) and out.device == tensor.device
    assert isinstance(expected, np.ndarray)
    np.testing.assert_array_equal(out.numpy(), expected)
    assert not np.array_equal(expected, array)  # each step changed something here


@pytest.mark.parametrize("name", sorted(IMAGE_STEPS))
def test_meta_is_refused_clearly(name):
    make, kwargs = IMAGE_STEPS[name]
    with pytest.raises(DataFormatError, match="'meta' device"):
        getattr(postprocess, name)(torch.from_numpy(make()).to("meta"), **kwargs)


def test_bfloat16_probabilities():
    prob = torch.from_numpy(_probabilities()).to(torch.bfloat16)
    out = postprocess.probabilities_to_instances(prob)
    np.testing.assert_array_equal(out.numpy(), postprocess.probabilities_to_instances(
        prob.float().numpy()))

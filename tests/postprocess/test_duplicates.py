"""suppress_duplicates: one detection per cell, other entries filtered alike, types kept."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from histomammo.errors import DataFormatError
from histomammo.metrics.detection import rates_vs_threshold
from histomammo.postprocess import suppress_duplicates


def test_suppress_duplicates_keeps_one_detection_per_cell():
    # one cell reported three times (shifted, nested: IoU 0.83 and 0.25, both kept by the
    # paper's NMS at 0.8), a second cell 40 px away, and a weaker detection of the first
    boxes = torch.tensor([[0.0, 0, 32, 32], [3, 2, 35, 34], [8, 8, 24, 24], [40, 0, 72, 32],
                          [1, 1, 33, 33]])
    prediction = {"boxes": boxes, "scores": torch.tensor([0.6, 0.9, 0.8, 0.7, 0.1]),
                  "labels": torch.tensor([1, 1, 1, 2, 1]), "image_id": 7}
    kept = suppress_duplicates([prediction], min_distance=16)[0]
    assert kept["scores"].tolist() == pytest.approx([0.9, 0.7])
    assert kept["labels"].tolist() == [1, 2] and kept["image_id"] == 7
    target = {"boxes": torch.tensor([[2.0, 1, 34, 33], [40, 0, 72, 32]])}
    rates = rates_vs_threshold([kept], [target], thresholds=[0.0])
    assert rates["tpr"][0] == 1.0 and rates["fdr"][0] == 0.0
    raw = rates_vs_threshold([prediction], [target], thresholds=[0.0])
    assert raw["fdr"][0] == pytest.approx(3 / 5)
    # numpy input; at distance 0 only box 0 goes (same centre as the better nested box)
    as_numpy = {k: v.numpy() for k, v in prediction.items() if k != "image_id"}
    assert suppress_duplicates([as_numpy], 0)[0]["scores"].tolist() == pytest.approx(
        [0.9, 0.8, 0.7, 0.1])
    empty = {"boxes": torch.zeros(0, 4), "scores": torch.zeros(0)}
    assert len(suppress_duplicates([empty], 16)[0]["boxes"]) == 0
    with pytest.raises(ValueError, match="min_distance"):
        suppress_duplicates([prediction], -1)


def test_exception():
    with pytest.raises(ValueError, match="'boxes' and 'scores'"):
        suppress_duplicates([{"boxes": np.zeros((1, 4))}], 4)
    with pytest.raises(ValueError, match="2 boxes but 1 scores"):
        suppress_duplicates([{"boxes": np.zeros((2, 4)), "scores": np.ones(1)}], 4)
    with pytest.raises(ValueError, match=r"shape \(N, 4\)"):
        suppress_duplicates([{"boxes": np.zeros((2, 3)), "scores": np.ones(2)}], 4)
    meta = {"boxes": torch.zeros(2, 4, device="meta"), "scores": torch.zeros(2, device="meta")}
    with pytest.raises(DataFormatError, match="'meta' device"):
        suppress_duplicates([meta], 4)


def test_tensors_that_require_grad_keep_their_type():
    boxes = torch.tensor([[0.0, 0, 10, 10], [1, 1, 11, 11]], requires_grad=True)
    scores = torch.tensor([0.2, 0.9], requires_grad=True)
    kept = suppress_duplicates([{"boxes": boxes, "scores": scores}], 4)[0]
    assert kept["scores"].requires_grad and kept["boxes"].tolist() == [[1.0, 1, 11, 11]]

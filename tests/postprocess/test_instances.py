"""maskrcnn_instances: the vectorised painting equals the plain loop it replaced, on any device."""

from __future__ import annotations

import pytest
import torch

from histomammo.postprocess import maskrcnn_instances


def _reference(output, score_threshold=0.5, mask_threshold=0.5):
    """The painting loop, written from the definition: best score first, free pixels only."""
    masks, scores = output["masks"], output["scores"]
    labels = torch.zeros(masks.shape[-2:], dtype=torch.int32)
    order = sorted(range(len(scores)), key=lambda i: -float(scores[i]))  # stable
    next_label = 1
    for index in order:
        if scores[index] < score_threshold:
            continue
        pixels = (masks[index, 0] > mask_threshold) & (labels == 0)
        if pixels.any():
            labels[pixels] = next_label
            next_label += 1
    return labels


def test_instances_from_outputs() -> None:
    masks = torch.zeros(3, 1, 6, 6)
    masks[0, 0, :3] = 0.9
    masks[1, 0, 2:] = 0.7
    masks[2, 0] = 0.95
    out = {"masks": masks, "scores": torch.tensor([0.9, 0.8, 0.3])}
    labels = maskrcnn_instances(out, score_threshold=0.5)
    assert labels[:3].eq(1).all() and labels[3:].eq(2).all()  # the better one keeps row 2
    with pytest.raises(ValueError, match="masks"):
        maskrcnn_instances({"masks": torch.zeros(2, 6, 6), "scores": torch.zeros(2)})


@pytest.mark.parametrize("seed", range(6))
def test_matches_reference(seed) -> None:
    g = torch.Generator().manual_seed(seed)
    n = int(torch.randint(0, 12, (1,), generator=g))
    # blobs: a detection hidden entirely under better ones gets no label (labels stay 1..K)
    masks = (torch.rand(n, 1, 9, 11, generator=g) > 0.6).float() * torch.rand(n, 1, 1, 1,
                                                                             generator=g)
    scores = torch.round(torch.rand(n, generator=g) * 4) / 4  # ties in the scores
    out = {"masks": masks, "scores": scores}
    for score_threshold in (0.0, 0.5, 1.1):
        ours = maskrcnn_instances(out, score_threshold, 0.3)
        assert torch.equal(ours, _reference(out, score_threshold, 0.3))
        assert ours.dtype == torch.int32 and ours.shape == (9, 11)


def test_follows_the_device() -> None:
    masks, scores = torch.rand(4, 1, 8, 8, device="meta"), torch.rand(4, device="meta")
    labels = maskrcnn_instances({"masks": masks, "scores": scores})
    assert labels.device.type == "meta" and labels.shape == (8, 8)
    assert labels.dtype == torch.int32
    empty = maskrcnn_instances({"masks": torch.zeros(0, 1, 5, 7, device="meta"),
                                "scores": torch.zeros(0, device="meta")})
    assert empty.device.type == "meta" and empty.shape == (5, 7)
    grad = torch.rand(2, 1, 5, 5, requires_grad=True)
    labels = maskrcnn_instances({"masks": grad, "scores": torch.tensor([0.9, 0.8])})
    assert not labels.requires_grad

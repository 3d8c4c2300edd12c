"""Tests of histomammo.transforms.letterbox: square U-Net inputs and their inverse."""

from __future__ import annotations

import pytest
import torch
from torchvision import tv_tensors

from histomammo.transforms.letterbox import SquareResize, restore_original_size, square_geometry


@pytest.mark.parametrize("mode", ["letterbox", "squash"])
@pytest.mark.parametrize("original", [(522, 775), (433, 574), (453, 589), (300, 200)])
def test_round_trip_restores_the_original_grid(mode, original) -> None:
    height, width = original
    mask = torch.zeros(height, width, dtype=torch.uint8)
    mask[height // 4: height // 2, width // 3: 2 * width // 3] = 1
    image = tv_tensors.Image(torch.zeros(3, height, width, dtype=torch.uint8))
    _, square = SquareResize(512, mode)(image, tv_tensors.Mask(mask))
    assert square.shape == (512, 512)
    geometry = square_geometry(original, 512, mode)
    back = restore_original_size(square.float(), geometry) > 0.5
    assert back.shape == original
    agreement = (back == mask.bool()).float().mean()
    assert agreement > 0.995


def test_letterbox_keeps_aspect_ratio_and_pads_with_zeros() -> None:
    image = tv_tensors.Image(torch.full((3, 522, 775), 255, dtype=torch.uint8))
    out = SquareResize(512)(image)
    geometry = square_geometry((522, 775), 512)
    assert geometry.resized == (345, 512) and geometry.offset == (83, 0)
    assert out[:, :83].eq(0).all() and out[:, 83 + 345:].eq(0).all()
    assert out[:, 83:83 + 345].eq(255).all()
    squashed = SquareResize(512, "squash")(image)
    assert squashed.eq(255).all()


def test_boxes_move_with_the_image() -> None:
    image = tv_tensors.Image(torch.zeros(3, 100, 200, dtype=torch.uint8))
    boxes = tv_tensors.BoundingBoxes(torch.tensor([[0.0, 0.0, 200.0, 100.0]]), format="XYXY",
                                     canvas_size=(100, 200))
    _, out = SquareResize(64)(image, boxes)
    assert out.tolist() == [[0.0, 16.0, 64.0, 48.0]]


def test_exception() -> None:
    with pytest.raises(ValueError, match="mode"):
        square_geometry((10, 10), 8, "crop")
    with pytest.raises(ValueError, match="size"):
        SquareResize(0)
    with pytest.raises(ValueError, match=r"\(512, 512\)"):
        restore_original_size(torch.zeros(1, 256, 256), square_geometry((10, 10), 512))

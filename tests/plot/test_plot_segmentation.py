"""Tests of histomammo.plot.segmentation: overlays of true and predicted gland instances."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from histomammo.datasets.synthetic.glas import draw_glands
from histomammo.plot import save_figure
from histomammo.plot.segmentation import plot_label_overlay, plot_segmentation_overlay


def test_smoke(tmp_path: Path) -> None:
    image, labels = draw_glands((64, 80), np.random.default_rng(0))
    fig = plot_segmentation_overlay(
        [image, image], [labels, labels],
        {"U-Net": [labels > 0, labels], "Mask R-CNN": [labels, labels]},
        row_titles=["best", "worst"])
    save_figure(fig, tmp_path / "fig4.png", dpi=90)
    assert len(fig.axes) == 8
    assert (tmp_path / "fig4.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_overlay_colours_only_instances() -> None:
    image, labels = draw_glands((64, 80), np.random.default_rng(1))
    out = plot_label_overlay(image, labels).axes[0].images[0].get_array()
    background = labels == 0
    # background untouched (outlines are drawn inside objects only), glands tinted
    assert np.array_equal(out[background], image[background])
    assert not np.array_equal(out[~background], image[~background])


def test_exception() -> None:
    with pytest.raises(ValueError, match="labels"):
        plot_label_overlay(np.zeros((4, 4, 3), np.uint8), np.zeros((5, 4), int))
    with pytest.raises(ValueError, match="one prediction per image"):
        plot_segmentation_overlay([np.zeros((4, 4, 3), np.uint8)], [np.zeros((4, 4), int)],
                                  {"U-Net": []})

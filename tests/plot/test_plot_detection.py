"""Detection figures: circles for boxes (predictions cut at the threshold) and figure 4's curves."""

from __future__ import annotations

import matplotlib
import numpy as np
import torch

from histomammo import plot

matplotlib.use("Agg")


def test_detections_draws_inscribed_circles_above_threshold():
    image = torch.rand(3, 40, 60)  # CHW tensors are shown as HWC
    target = {"boxes": torch.tensor([[0.0, 0, 10, 10], [20, 20, 30, 40]])}
    prediction = {"boxes": np.array([[1, 1, 11, 11], [40, 5, 50, 15], [5, 5, 9, 9]]),
                  "scores": np.array([0.9, 0.06, 0.04])}
    ax = plot.plot_detections(image, target, prediction, threshold=0.05, title="t").axes[0]
    circles = ax.patches
    assert len(circles) == 4  # 2 ground truth + 2 predictions >= 0.05
    assert [c.get_radius() for c in circles[:2]] == [5.0, 5.0]
    assert tuple(circles[1].center) == (25.0, 30.0)
    assert ax.images[0].get_array().shape == (40, 60, 3)


def test_rates_vs_threshold_sorts_thresholds_and_marks_published():
    rates = {"thresholds": np.array([0.9, 0.1, 0.5]), "tpr": np.array([0.3, 1.0, 0.8]),
             "fdr": np.array([0.1, 0.7, 0.4])}
    ax = plot.plot_rates_vs_threshold(rates, published_tpr=0.9902).axes[0]
    tpr_line = ax.get_lines()[0]
    assert tpr_line.get_xdata().tolist() == [0.1, 0.5, 0.9]
    assert tpr_line.get_ydata().tolist() == [1.0, 0.8, 0.3]
    assert "99.02%" in ax.get_lines()[2].get_label()

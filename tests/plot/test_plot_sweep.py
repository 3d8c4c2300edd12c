"""Every public plot function: ``plot_*(..., ax=None) -> Figure``, draws into the axes it is
given (one per panel), leaves its figure open (a notebook shows it), writes no file, and the
package never switches matplotlib's backend."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import matplotlib
import numpy as np
import pytest
import torch

import histomammo
from histomammo import plot
from histomammo.metrics.classification import roc_curve

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

_IMAGE = np.full((24, 32, 3), 200, np.uint8)
_LABELS = np.zeros((24, 32), np.int64)
_LABELS[4:12, 5:15], _LABELS[14:20, 18:30] = 1, 2
_COLUMNS = [(m, p) for m in ("f1", "object_dice", "object_hausdorff") for p in "AB"]
_STAGES = SimpleNamespace(blurred=_LABELS[::2, ::2] * 1.0, foreground=_LABELS[::2, ::2] > 0,
                          boxes=[(5, 4, 15, 12)], box=(5, 4, 15, 12),
                          image=_LABELS[4:12, 5:15], factor=2)

# name -> (positional arguments, keyword arguments, number of axes it draws into)
CASES = {
    "plot_roc": (({"a": {**roc_curve([0.1, 0.8, 0.4, 0.9], [0, 1, 0, 1]), "auc": 0.75}},),
                 {"operating_points": {"t": (0.5, 0.9)}}, 1),
    "plot_training_curves": (([{"epoch": 0, "loss": 0.7, "val_auc": 0.6},
                               {"epoch": 1, "loss": 0.5, "val_auc": 0.8}],), {}, 1),
    "plot_mammograms": (([("a", torch.eye(8)), ("b", np.ones((8, 4)))],),
                        {"boxes": [[(1, 1, 4, 4)], []], "highlight": [None, (0, 0, 2, 2)]}, 2),
    "plot_naive_steps": ((np.eye(16), np.eye(8)), {}, 2),
    "plot_crop_steps": ((_LABELS * 1.0, _STAGES), {"cleaned": _LABELS * 1.0}, 6),
    "plot_leaderboard": (([{"name": "mine", "scores": dict.fromkeys(_COLUMNS, 0.9),
                            "ranks": dict.fromkeys(_COLUMNS, 1), "sum_of_ranks": 6,
                            "position": 1, "is_user": True, "official": True}],),
                         {"title": "GlaS"}, 1),
    "plot_patches": (([_IMAGE] * 3, [0, 1, 1]), {"columns": 2}, 4),
    "plot_tissue_mask": ((_IMAGE, _LABELS > 0), {"title": "tissue"}, 1),
    "plot_label_overlay": ((torch.from_numpy(_IMAGE), torch.from_numpy(_LABELS)), {}, 1),
    "plot_segmentation_overlay": (([_IMAGE, _IMAGE], [_LABELS, _LABELS]),
                                  {"predictions": {"U-Net": [_LABELS, _LABELS > 0]},
                                   "row_titles": ["best", "worst"]}, 6),
    "plot_detections": ((torch.rand(3, 24, 32), {"boxes": torch.tensor([[1.0, 1, 9, 9]])},
                         {"boxes": np.array([[2, 2, 10, 10]]), "scores": np.array([0.9])}),
                        {"title": "cells"}, 1),
    "plot_rates_vs_threshold": (({"thresholds": torch.tensor([0.1, 0.5]),
                                  "tpr": np.array([1.0, 0.5]), "fdr": np.array([0.5, 0.2])},),
                                {"published_tpr": 0.99}, 1),
}


@pytest.fixture
def no_files(tmp_path, monkeypatch):
    """Run in an empty folder with saving disabled: a function that writes fails the test."""
    monkeypatch.chdir(tmp_path)

    def refuse(*args, **kwargs):
        raise AssertionError("a plot function saved a figure")

    monkeypatch.setattr(Figure, "savefig", refuse)
    yield tmp_path
    assert list(tmp_path.iterdir()) == []
    plt.close("all")


def test_every_public_function_is_swept():
    assert set(plot.__all__) == {*CASES, "save_figure"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_new_figure_is_returned_open(name, no_files):
    args, kwargs, _ = CASES[name]
    before = set(plt.get_fignums())
    figure = getattr(plot, name)(*args, **kwargs)
    assert isinstance(figure, Figure)
    assert figure.number in set(plt.get_fignums()) - before  # a pyplot figure, not closed
    assert any(ax.images or ax.lines or ax.tables or ax.patches for ax in figure.axes)


@pytest.mark.parametrize("name", sorted(CASES))
def test_draws_into_the_given_axes(name, no_files):
    args, kwargs, n_axes = CASES[name]
    figure, axes = plt.subplots(1, n_axes, squeeze=False)
    axes = axes[0] if n_axes > 1 else axes[0][0]
    open_before = set(plt.get_fignums())
    returned = getattr(plot, name)(*args, **kwargs, ax=axes)
    assert returned is figure
    assert set(plt.get_fignums()) == open_before  # no other figure made
    drawn = [ax for ax in np.ravel(axes) if ax.images or ax.lines or ax.tables or ax.patches]
    assert drawn, "nothing was drawn into the given axes"


def test_wrong_number_of_axes_is_refused():
    _, axes = plt.subplots(1, 3)
    with pytest.raises(ValueError, match="ax must hold 2 axes"):
        plot.plot_naive_steps(np.eye(4), np.eye(4), ax=axes)
    plt.close("all")


def test_save_figure_writes_atomically(tmp_path):
    figure = plot.plot_roc({"a": roc_curve([0.1, 0.8], [0, 1])})
    assert plot.save_figure(figure, tmp_path / "roc.pdf") == tmp_path / "roc.pdf"
    assert (tmp_path / "roc.pdf").read_bytes()[:4] == b"%PDF"
    plot.save_figure(figure, tmp_path / "roc")  # no suffix: PNG
    assert (tmp_path / "roc").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["roc", "roc.pdf"]
    plt.close(figure)


def test_the_package_never_switches_the_backend():
    """No module of the package (demo and systems included) switches a notebook's backend."""
    root = Path(histomammo.__file__).parent
    sources = sorted(root.rglob("*.py"))
    assert len(sources) > 100  # the whole package is scanned
    offenders = [str(path.relative_to(root)) for path in sources
                 if re.search(r"matplotlib\.use\(|\.switch_backend\(", path.read_text())]
    assert offenders == []

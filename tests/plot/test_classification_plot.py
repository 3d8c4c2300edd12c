"""ROC and training-curve figures are written (atomically) and carry what they were given."""

from __future__ import annotations

from histomammo.metrics.classification import roc_auc, roc_curve
from histomammo.plot import plot_roc, plot_training_curves, save_figure


def test_plot_roc_writes_png(tmp_path, rng):
    labels = rng.integers(0, 2, 100)
    scores = rng.normal(labels, 1.0)
    curve = {**roc_curve(scores, labels), "auc": roc_auc(scores, labels)}
    figure = plot_roc({"test": curve}, operating_points={"threshold": (0.5, 0.9)})
    save_figure(figure, tmp_path / "roc.png", tight=True)
    assert (tmp_path / "roc.png").read_bytes()[:4] == b"\x89PNG"
    legend = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert legend[0].startswith("test (AUC ") and "threshold" in legend


def test_plot_training_curves_skips_missing_keys(tmp_path):
    history = [{"epoch": e, "loss": 1 / (e + 1), "val_loss": 1.2 / (e + 1), "val_auc": 0.5 + e / 10}
               for e in range(4)]
    figure = plot_training_curves(history)
    save_figure(figure, tmp_path / "curves.png", tight=True)
    labels = [line.get_label() for ax in figure.axes for line in ax.get_lines()]
    assert labels == ["loss", "val_loss", "val_auc"]
    assert (tmp_path / "curves.png").stat().st_size > 0
    assert not list(tmp_path.glob("*.tmp*"))

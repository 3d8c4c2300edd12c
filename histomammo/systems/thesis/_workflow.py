"""The thesis's workflow: INbreast -> cropping preprocessing -> AlexNet/ResNet -> tables 6.3-6.4.

Synthetic INbreast tree (or ``root`` for the real one) -> the cropping (or naive)
preprocessing -> a randomly initialised ``alexnet_grey`` / ``resnet50_grey`` trained with
[`thesis_recipe`][histomammo.systems.thesis.thesis_recipe] -> the best-validation-loss
snapshot -> table 6.3 / 6.4 rows with patient-bootstrap intervals. ``examples/mammo_whole_image.py``
runs it at full size; the demo stage ``mammo_models`` runs it short.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from histomammo.datasets import INbreast
from histomammo.datasets.synthetic import make_inbreast
from histomammo.engine import Trainer
from histomammo.metrics.classification import (
    accuracy,
    aggregate_views,
    bootstrap_ci,
    roc_auc,
    roc_curve,
    sensitivity_specificity,
    specificity_at_sensitivity,
)
from histomammo.models import create_model
from histomammo.plot import plot_mammograms, plot_roc, plot_training_curves
from histomammo.systems._mammo import (
    accuracy_metric,
    auc_metric,
    predict_scores,
    save_closed,
    stored_to_unit,
    synthetic_root,
)
from histomammo.systems.thesis._recipe import thesis_recipe
from histomammo.transforms.mammo import preprocess_crop, preprocess_naive

__all__ = ["load_inbreast", "train_whole_image", "evaluate_whole_image", "whole_image_run",
           "marker_ablation_run", "plot_view_inputs"]


def load_inbreast(root: Path, split: str, size: tuple[int, int], *, target: str = "cancer",
                  preprocess: str = "crop",
                  fractions: tuple[float, float, float] = (0.6, 0.2, 0.2), seed: int = 0,
                  remove_markers: bool = True) -> dict[str, Any]:
    """Preprocessed INbreast split as tensors: ``x (N,1,H,W)``, ``y``, ``breast``, ``patient``.

    ``remove_markers=False`` skips the preprocessing's marker removal (the marker ablation).
    The CC and MLO views only (the thesis's; INbreast's one ``FB`` image is left out).

    The thesis preprocessing runs on the stored integers (``pixels="raw"``): its marker
    removal looks for the largest stored value and its Otsu threshold is integer, which a
    display window would move (it blanked ~2% of the breast on windowed INbreast). The
    preprocessed image is then scaled linearly to float32 in [0, 1] by the file's stored
    range (``stored_to_unit``), the network's input.
    """
    data = INbreast(root, split, label="follow_up", fractions=fractions, seed=seed,
                    views=("CC", "MLO"), pixels="raw")
    method: Literal["saturated"] | None = "saturated" if remove_markers else None
    images, labels = [], []
    for index, record in enumerate(data.records):
        pixels = data[index][0][0].numpy()
        if preprocess == "crop":
            image = preprocess_crop(pixels, out_size=size, marker_method=method)
        else:
            image = preprocess_naive(pixels, laterality=record.laterality, out_shape=size,
                                     factor=max(1, pixels.shape[0] // size[0]),
                                     marker_method=method)
        images.append(stored_to_unit(image, record.path))
        labels.append(record.view == "MLO" if target == "view" else record.label)
    return {"x": torch.from_numpy(np.stack(images))[:, None],
            "y": torch.tensor(labels, dtype=torch.int64),
            "breast": np.array([f"{r.patient}/{r.laterality}" for r in data.records]),
            "patient": np.array([r.patient for r in data.records])}


def train_whole_image(train: dict[str, Any], val: dict[str, Any], *, model_name: str, size: tuple[int, int],
                      epochs: int, out: Path, optimizer: str = "sgd", seed: int = 0,
                      batch_size: int = 16, device: str = "auto", amp: bool = False,
                      channels_last: bool = False, **model_kwargs: Any
                      ) -> tuple[torch.nn.Module, list[dict[str, Any]]]:
    """Train with [`thesis_recipe`][histomammo.systems.thesis.thesis_recipe] (``optimizer``
    ``"sgd"``, the thesis's, or ``"adam"``) and return the best-val-loss snapshot and history.

    ``train``/``val`` are [`load_inbreast`][histomammo.systems.thesis.load_inbreast] splits. The
    history has ``val_auc`` and
    ``val_accuracy`` (at the arg-max) of every epoch.
    """
    torch.manual_seed(seed)
    kwargs = {"input_size": size} if model_name.startswith("alexnet") else {}
    model = create_model(model_name, **kwargs, **model_kwargs)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    recipe = thesis_recipe(epochs=epochs, optimizer=optimizer, batch_size=batch_size)
    trainer = Trainer.from_recipe(model, recipe, device=device, amp=amp, seed=seed,
                                  checkpoint_dir=out / "checkpoints", progress=False)
    loader = DataLoader(TensorDataset(train["x"], train["y"]), batch_size=recipe.batch_size,
                        shuffle=True)
    val_loader = DataLoader(TensorDataset(val["x"], val["y"]), batch_size=recipe.eval_batch_size)
    trainer.fit(loader, epochs=recipe.epochs, val_loader=val_loader, resume=False,
                metrics={"auc": auc_metric, "accuracy": accuracy_metric})
    trainer.load_checkpoint(out / "checkpoints" / "best.pt", model_only=True)
    return trainer.model, trainer.history


def evaluate_whole_image(model: torch.nn.Module, val: dict[str, Any], test: dict[str, Any], *, n_boot: int = 200,
                         seed: int = 0) -> dict[str, Any]:
    """Table 6.3 row, table 6.4 rows (per breast) and patient-bootstrap intervals."""
    val_s, test_s = predict_scores(model, val["x"]), predict_scores(model, test["x"])
    row = specificity_at_sensitivity(val_s, val["y"], test_s, test["y"])

    def specificity(scores: np.ndarray, labels: np.ndarray) -> float:
        return sensitivity_specificity(scores, labels, row["threshold"])["specificity"]

    intervals = {name: bootstrap_ci(fn, test_s, test["y"].numpy(), n=n_boot, seed=seed,
                                    groups=test["patient"])
                 for name, fn in (("test_auc", roc_auc), ("test_specificity", specificity))}
    views = {}
    for how in ("min", "max", "mean"):
        v = aggregate_views(val_s, val["breast"], how, targets=val["y"])
        t = aggregate_views(test_s, test["breast"], how, targets=test["y"])
        views[how] = specificity_at_sensitivity(v["scores"], v["labels"], t["scores"],
                                                t["labels"])
    return {"table_6_3": row, "table_6_4": views, "ci": intervals,
            "roc": {**roc_curve(test_s, test["y"]), "auc": row["test_auc"]}}


def whole_image_run(out: Path, seed: int = 0, *, root: Path | None = None,
                    model_name: str = "alexnet_grey", size: tuple[int, int] = (128, 104),
                    epochs: int = 10,
                    target: str = "cancer", preprocess: str = "crop", n_patients: int = 60,
                    optimizer: str = "adam", remove_markers: bool = True,
                    anatomy: str | None = None, batch_size: int = 16,
                    **model_kwargs: Any) -> dict[str, Any]:
    """The thesis's pipeline; synthetic INbreast-shaped data unless ``root`` is given.

    ``target="view"`` is the CC-vs-MLO check of section 6.2 and returns the history and the
    test accuracy. ``remove_markers=False`` keeps the burned-in markers and
    ``anatomy="CC"`` draws every synthetic image with CC anatomy (the marker then being
    the only view cue): together, the marker ablation.
    """
    out.mkdir(parents=True, exist_ok=True)
    if root is None:
        root = make_inbreast(synthetic_root(out, "inbreast"), n_patients=n_patients,
                             shape=(2 * size[0], 2 * size[1]), seed=seed, malignant_fraction=0.5,
                             anatomy=anatomy)
    splits = {s: load_inbreast(root, s, size, target=target, preprocess=preprocess, seed=seed,
                               remove_markers=remove_markers)
              for s in ("train", "val", "test")}
    if target == "view":
        plot_view_inputs(splits["train"], out / "views.png")
    mean = float(splits["train"]["x"].mean())
    for split in splits.values():
        split["x"] -= mean
    model, history = train_whole_image(splits["train"], splits["val"], model_name=model_name,
                                       size=size, epochs=epochs, out=out, optimizer=optimizer,
                                       seed=seed, batch_size=batch_size, **model_kwargs)
    if target == "view":
        save_closed(plot_training_curves(history, keys=("loss", "val_loss", "val_accuracy")),
                    out / "training.png")
        return {"history": history, "test_accuracy": accuracy(
            predict_scores(model, splits["test"]["x"]), splits["test"]["y"].numpy())}
    save_closed(plot_training_curves(history, keys=("loss", "val_loss", "val_auc")),
                out / "training.png")
    results = evaluate_whole_image(model, splits["val"], splits["test"], seed=seed)
    operating = (results["table_6_3"]["test_specificity"], results["table_6_3"]["test_sensitivity"])
    save_closed(plot_roc({"test": results.pop("roc")},
                         operating_points={"validation threshold": operating}), out / "roc.png")
    return {"history": history, **results}


def plot_view_inputs(split: dict[str, Any], path: Path, per_view: int = 2) -> None:
    """The first ``per_view`` CC and MLO inputs of a view-target split, as the network sees them."""
    labels = split["y"].numpy()
    panels = [(f"{name} ({split['breast'][i].split('/')[-1]})", split["x"][i, 0].numpy())
              for value, name in ((0, "CC"), (1, "MLO"))
              for i in np.flatnonzero(labels == value)[:per_view]]
    save_closed(plot_mammograms(panels, panel_height=2.0), path, dpi=80)


def marker_ablation_run(out: Path, seed: int = 0, *, n_patients: int = 200,
                        size: tuple[int, int] = (128, 104),
                        epochs: int = 3, **model_kwargs: Any) -> dict[str, float]:
    """Test accuracy of the view check on CC-anatomy images, markers kept and removed.

    Every synthetic image is drawn with CC anatomy, so the burned-in marker text is the
    only view cue; the naive preprocessing keeps the whole field (the crop cuts the marker
    corner off with the background). Adam 1e-3: plain SGD at 0.01 takes many epochs to
    find a few-pixel text; the ablation is about what the pixels carry, not the recipe.
    Both arms train on the same synthetic images.
    """
    out.mkdir(parents=True, exist_ok=True)
    root = make_inbreast(synthetic_root(out, "inbreast"), n_patients=n_patients,
                         shape=(2 * size[0], 2 * size[1]), seed=seed, anatomy="CC")
    return {f"markers {name}": whole_image_run(
        out / f"markers_{name}", seed, root=root, model_name="alexnet_grey", size=size,
        epochs=epochs, target="view", preprocess="naive", optimizer="adam",
        remove_markers=name == "removed", **model_kwargs)["test_accuracy"]
        for name in ("kept", "removed")}



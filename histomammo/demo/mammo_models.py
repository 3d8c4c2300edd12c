"""Demo stage ``mammo_models``: the two mammography classification seeds, end to end.

1. The thesis: synthetic INbreast tree -> cropping preprocessing -> a small ``alexnet_grey``
   -> best-validation-loss snapshot -> table 6.3 / 6.4 rows with bootstrap intervals.
2. Shen et al.: synthetic CBIS-DDSM tree -> S10 patches from the ROI masks -> patch
   classifier (3 stages) -> whole-image classifier (2 stages), with and without heatmap.

The pipeline functions here are the ones ``examples/mammo_whole_image.py`` and
``examples/mammo_patch_to_whole.py`` run at full size (``--root`` for the real data).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from histomammo.datasets import CBISDDSM, INbreast
from histomammo.datasets.synthetic import make_cbis_ddsm, make_inbreast
from histomammo.engine import Trainer
from histomammo.engine.recipes.shen import (
    BatchBalancedCrossEntropy,
    shen_optimizer,
    shen_patch_stages,
    shen_whole_image_stages,
)
from histomammo.engine.recipes.thesis import thesis
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
from histomammo.models.patch_to_image import PatchToImageClassifier
from histomammo.plot import plot_mammograms, plot_roc, plot_training_curves
from histomammo.transforms.mammo import preprocess_crop, preprocess_naive
from histomammo.transforms.patches import lesion_patches, patch_class

__all__ = ["run", "load_inbreast", "train_whole_image", "evaluate_whole_image",
           "whole_image_run", "marker_ablation_run", "plot_view_inputs", "patch_to_whole_run"]


def _positive_scores(logits: torch.Tensor) -> np.ndarray:
    return torch.softmax(logits.float(), dim=1)[:, 1].numpy()


def _accuracy_metric(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    return accuracy(_positive_scores(outputs), targets)


def _synthetic_root(out: Path, layout: str) -> Path:
    """A fresh folder in ``out`` for a synthetic ``layout`` tree (``"inbreast"``, ...)."""
    return Path(tempfile.mkdtemp(prefix=f"synthetic_{layout}_", dir=out))


def _auc_metric(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    try:
        return roc_auc(_positive_scores(outputs), targets)
    except ValueError:  # a validation batch set with one class only
        return float("nan")


def load_inbreast(root: Path, split: str, size: tuple[int, int], *, target: str = "cancer",
                  preprocess: str = "crop", fractions=(0.6, 0.2, 0.2), seed: int = 0,
                  remove_markers: bool = True) -> dict[str, Any]:
    """Preprocessed INbreast split as tensors: ``x (N,1,H,W)``, ``y``, ``breast``, ``patient``.

    ``remove_markers=False`` skips the preprocessing's marker removal (the marker ablation).
    """
    data = INbreast(root, label="follow_up", split=split, fractions=fractions, seed=seed)
    method = "saturated" if remove_markers else None
    images, labels = [], []
    for index, record in enumerate(data.records):
        pixels = data[index][0][0].numpy()
        if preprocess == "crop":
            image = preprocess_crop(pixels, out_size=size, marker_method=method)
        else:
            image = preprocess_naive(pixels, laterality=record.laterality, out_shape=size,
                                     factor=max(1, pixels.shape[0] // size[0]),
                                     marker_method=method)
        images.append(image.astype(np.float32))
        labels.append(record.view == "MLO" if target == "view" else record.label)
    return {"x": torch.from_numpy(np.stack(images))[:, None],
            "y": torch.tensor(labels, dtype=torch.int64),
            "breast": np.array([f"{r.patient}/{r.laterality}" for r in data.records]),
            "patient": np.array([r.patient for r in data.records])}


def train_whole_image(train: dict, val: dict, *, model_name: str, size: tuple[int, int],
                      epochs: int, out: Path, optimizer: str = "thesis", seed: int = 0,
                      batch_size: int = 16, **model_kwargs: Any
                      ) -> tuple[torch.nn.Module, list[dict]]:
    """Train with the thesis's recipe (or Adam 1e-3) and return the best-val-loss snapshot.

    The history has ``val_auc`` and ``val_accuracy`` (at the arg-max) of every epoch. The
    thesis gives no batch size; 16 here.
    """
    torch.manual_seed(seed)
    kwargs = {"input_size": size} if model_name.startswith("alexnet") else {}
    model = create_model(model_name, **kwargs, **model_kwargs)
    recipe = thesis(model, epochs=epochs)
    if optimizer == "adam":
        recipe.optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    trainer = Trainer(model, recipe.optimizer, recipe.loss_fn, device="auto", seed=seed,
                      checkpoint_dir=out / "checkpoints", callbacks=recipe.callbacks,
                      progress=False)
    loader = DataLoader(TensorDataset(train["x"], train["y"]), batch_size=batch_size,
                        shuffle=True)
    val_loader = DataLoader(TensorDataset(val["x"], val["y"]), batch_size=32)
    trainer.fit(loader, epochs=recipe.epochs, val_loader=val_loader, resume=False,
                metrics={"auc": _auc_metric, "accuracy": _accuracy_metric})
    trainer.load_checkpoint(out / "checkpoints" / "best.pt", model_only=True)
    return trainer.model, trainer.history


def _predict(model: torch.nn.Module, split: dict) -> np.ndarray:
    model.eval()
    device = next(model.parameters()).device
    with torch.no_grad():
        return np.concatenate([_positive_scores(model(x.to(device)).cpu())
                               for x in split["x"].split(32)])


def evaluate_whole_image(model: torch.nn.Module, val: dict, test: dict, *, n_boot: int = 200,
                         seed: int = 0) -> dict[str, Any]:
    """Table 6.3 row, table 6.4 rows (per breast) and patient-bootstrap intervals."""
    val_s, test_s = _predict(model, val), _predict(model, test)
    row = specificity_at_sensitivity(val_s, val["y"], test_s, test["y"])

    def specificity(scores, labels):
        return sensitivity_specificity(scores, labels, row["threshold"])[1]

    intervals = {name: bootstrap_ci(fn, test_s, test["y"].numpy(), n=n_boot, seed=seed,
                                    groups=test["patient"])
                 for name, fn in (("test_auc", roc_auc), ("test_specificity", specificity))}
    views = {}
    for how in ("min", "max", "mean"):
        v = aggregate_views(val_s, val["breast"], how, labels=val["y"])
        t = aggregate_views(test_s, test["breast"], how, labels=test["y"])
        views[how] = specificity_at_sensitivity(v["scores"], v["labels"], t["scores"],
                                                t["labels"])
    return {"table_6_3": row, "table_6_4": views, "ci": intervals,
            "roc": {**roc_curve(test_s, test["y"]), "auc": row["test_auc"]}}


def whole_image_run(out: Path, seed: int = 0, *, root: Path | None = None,
                    model_name: str = "alexnet_grey", size=(128, 104), epochs: int = 10,
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
        root = make_inbreast(_synthetic_root(out, "inbreast"), n_patients=n_patients,
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
        plot_training_curves(history, out / "training.png",
                             keys=("loss", "val_loss", "val_accuracy"))
        return {"history": history, "test_accuracy": accuracy(
            _predict(model, splits["test"]), splits["test"]["y"].numpy())}
    plot_training_curves(history, out / "training.png", keys=("loss", "val_loss", "val_auc"))
    results = evaluate_whole_image(model, splits["val"], splits["test"], seed=seed)
    plot_roc({"test": results.pop("roc")}, out / "roc.png",
             operating_points={"validation threshold": (
                 results["table_6_3"]["test_specificity"], results["table_6_3"]["test_sensitivity"])})
    return {"history": history, **results}


def plot_view_inputs(split: dict, path: Path, per_view: int = 2) -> None:
    """The first ``per_view`` CC and MLO inputs of a view-target split, as the network sees them."""
    labels = split["y"].numpy()
    panels = [(f"{name} ({split['breast'][i].split('/')[-1]})", split["x"][i, 0].numpy())
              for value, name in ((0, "CC"), (1, "MLO"))
              for i in np.flatnonzero(labels == value)[:per_view]]
    import matplotlib.pyplot as plt  # plot_mammograms made sure it is there

    plt.close(plot_mammograms(panels, path=path, panel_height=2.0))


def marker_ablation_run(out: Path, seed: int = 0, *, n_patients: int = 200, size=(128, 104),
                        epochs: int = 3, **model_kwargs: Any) -> dict[str, float]:
    """Test accuracy of the view check on CC-anatomy images, markers kept and removed.

    Every synthetic image is drawn with CC anatomy, so the burned-in marker text is the
    only view cue; the naive preprocessing keeps the whole field (the crop cuts the marker
    corner off with the background). Adam 1e-3: plain SGD at 0.01 takes many epochs to
    find a few-pixel text; the ablation is about what the pixels carry, not the recipe.
    Both arms train on the same synthetic images.
    """
    out.mkdir(parents=True, exist_ok=True)
    root = make_inbreast(_synthetic_root(out, "inbreast"), n_patients=n_patients,
                         shape=(2 * size[0], 2 * size[1]), seed=seed, anatomy="CC")
    return {f"markers {name}": whole_image_run(
        out / f"markers_{name}", seed, root=root, model_name="alexnet_grey", size=size,
        epochs=epochs, target="view", preprocess="naive", optimizer="adam",
        remove_markers=name == "removed", **model_kwargs)["test_accuracy"]
        for name in ("kept", "removed")}


def _patch_set(data: CBISDDSM, size: int, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
    patches, labels = [], []
    for index, record in enumerate(data.records):
        image = data[index][0][0].numpy()
        classes = [patch_class(a["type"], a["pathology"]) for a in record.extra["abnormalities"]]
        cut = lesion_patches(image, data.roi_masks(index), classes, n_per_roi=10,
                             n_background=10, size=size, rng=rng)
        patches.append(cut.patches)
        labels.append(cut.labels)
    return torch.from_numpy(np.concatenate(patches))[:, None], torch.from_numpy(
        np.concatenate(labels))


def _images(data: CBISDDSM) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.stack([data[i][0] for i in range(len(data))]).float()
    return x, torch.tensor([r.label for r in data.records])


def _fit(model, loss_fn, callback, x, y, epochs, batch_size, seed):
    trainer = Trainer(model, shen_optimizer(model), loss_fn, device="auto", seed=seed,
                      callbacks=[callback], progress=False)
    trainer.fit(DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True),
                epochs=epochs)
    return trainer.history


def patch_to_whole_run(out: Path, seed: int = 0, *, root: Path | None = None,
                       n_patients: int = 24, shape=(128, 104), patch_size: int = 32,
                       patch_epochs=(1, 2, 5), image_epochs=(2, 3), width: float = 0.125,
                       top_blocks=(((8, 8, 32), 1), ((8, 8, 32), 1))) -> dict[str, Any]:
    """Shen et al.'s pipeline; synthetic CBIS-DDSM-shaped data unless ``root`` is given."""
    out.mkdir(parents=True, exist_ok=True)
    if root is None:
        root = make_cbis_ddsm(_synthetic_root(out, "cbis_ddsm"), n_patients=n_patients,
                              shape=shape, seed=seed, test_fraction=0.4)
    rng = np.random.default_rng(seed)
    train, test = CBISDDSM(root, "both", "train"), CBISDDSM(root, "both", "test")
    patches, classes = _patch_set(train, patch_size, rng)
    mean = float(patches.mean())
    torch.manual_seed(seed)
    patch_net = create_model("vgg16_gap", width=width)
    # randomly initialised: the paper's constant 1e-3 on all layers (one stage)
    stages = shen_patch_stages(patch_net, pretrained=False, epochs=patch_epochs)
    patch_history = _fit(patch_net, BatchBalancedCrossEntropy(), stages, patches - mean,
                         classes, sum(patch_epochs), 32, seed)
    (x_train, y_train), (x_test, y_test) = _images(train), _images(test)
    results: dict[str, Any] = {"patch_history": patch_history, "n_patches": len(classes)}
    curves = {}
    for heatmap in (False, True):
        torch.manual_seed(seed)
        model = PatchToImageClassifier(patch_net, top="resnet", top_blocks=top_blocks,
                                       heatmap=heatmap)
        stages = shen_whole_image_stages(model, epochs=image_epochs, lrs=(1e-3, 1e-4))
        _fit(model, torch.nn.CrossEntropyLoss(), stages, x_train - mean, y_train,
             sum(image_epochs), 2, seed)
        scores = _predict(model, {"x": x_test - mean})
        name = "with heatmap" if heatmap else "without heatmap"
        results[name] = {"test_auc": roc_auc(scores, y_test)}
        curves[name] = {**roc_curve(scores, y_test), "auc": results[name]["test_auc"]}
    plot_roc(curves, out / "roc_patch_to_whole.png", title="whole-image classifier (test)")
    plot_training_curves(patch_history, out / "patch_training.png", keys=("loss",))
    return results


def run(out: Path, seed: int) -> dict[str, Any]:
    """The demo stage: a short run of each pipeline (one thread: fast on a shared CPU)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        whole = whole_image_run(out / "whole_image", seed, epochs=8, n_patients=40,
                                width=0.25, fc_size=256)
        whole.pop("history")
        shen = patch_to_whole_run(out / "patch_to_whole", seed)
        history = shen.pop("patch_history")
        shen["patch_loss_first_last"] = [history[0]["loss"], history[-1]["loss"]]
    finally:
        torch.set_num_threads(threads)
    return {"whole_image": whole, "patch_to_whole": shen}

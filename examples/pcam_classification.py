"""The PCam report's four classifiers, trained and tested with the engine, beside its numbers.

Inception v3 transfer (runs 1 and 2), the All-CNN, the G-CNN (the seed's recipe and, beside it,
Adam at lr 1e-3) and the P4M-DenseNet on synthetic PCam (``--root`` for the real HDF5
files). Every run checkpoints into ``--out/<run>``: the first half of the epochs is trained, a
fresh model and trainer then resume from the checkpoint to the end (as a killed run would), and
running the script again resumes or skips what is done. Scores are tumour probabilities.

    python examples/pcam_classification.py --epochs 4              # synthetic, CPU-sized
    python examples/pcam_classification.py --root PCAM --full      # the seed's sizes, a GPU

On a CPU the defaults shrink what is expensive (patches, widths, Inception's input size);
``--full`` uses the seed's: 96x96 patches, 299x299 for Inception, the All-CNN's 64.5M
parameters, the G-CNN's 96/192/384 fields, the recipes' 24 / 100 epochs unless --epochs.
``--gcnn-widths`` / ``--gcnn-hidden`` size the two G-CNN runs alone (``--size 96
--gcnn-widths 48,96,192 --gcnn-hidden 1024``: the seed's final G-CNN, section 3.3.4, on a CPU).
The equivariant models take the sides on which their output is exactly invariant: the G-CNN
32 + 4k (48 and 96 are), the P4M-DenseNet 32 + 32k, so at the CPU default of 48 its patches
are zero-padded to 64 (``fit_input="pad"``; 96 enters as is).
Without ImageNet weights (``--inception-weights FILE``; nothing is downloaded) the Inception
backbone is random: its BatchNorm statistics are then estimated from 64 training patches
(``calibrate_batchnorm``; uncalibrated, every patch gets the same score) and its rows are a
plumbing check of the seed's transfer setting on random features, not the seed's result.
With a file they are the seed's fixed-feature-extractor runs. ``inception_finetune`` trains
the whole network instead (``freeze_backbone=False``, Adam 1e-4; at 1e-3 the held-out scores
came out inverted), which is what learns from a random backbone; the seed did not fine-tune
(an hour per epoch on its GPU). The auxiliary classifier needs
299x299 inputs: below that (the CPU default, 128) it is left out.

Where a seed recipe does not learn, the recipe that does runs beside it: ``all_cnn_learning``
(the All-CNN with its dropouts off while training, Adam, no weight decay) beside ``all_cnn``
and ``all_cnn_adam`` (Adam alone), ``gcnn_learning_recipe`` beside ``gcnn_seed_recipe``, the
Adam variant beside Inception run 1. ``--figures DIR`` draws the test ROC curves and the
training curves with ``histomammo.plot``.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from histomammo.datasets import PCam
from histomammo.datasets.synthetic import make_pcam
from histomammo.engine import Trainer
from histomammo.metrics.classification import roc_curve
from histomammo.models import calibrate_batchnorm, create_model
from histomammo.systems import pcam as augment
from histomammo.systems import pcam as recipes

PATCH_STATS = {"mean": (0.5,) * 3, "std": (0.25,) * 3}  # or datasets.compute_mean_std(train)


def runs(args: argparse.Namespace) -> dict[str, tuple[Callable[[], Any], Callable, Any, Any]]:
    """``{run: (build model, recipe, train transform, eval transform)}``."""
    size = None if args.full else args.size
    plain, inception_size = augment.patch_transform(**PATCH_STATS, size=size), args.inception_size
    allcnn_widths = gcnn_widths = None  # the seed's with --full
    if not args.full:
        allcnn_widths, gcnn_widths = (16, 32, 48, 64, 80, 96), (4, 8, 8)
    inception = augment.inception_transform(inception_size)
    inception_model = partial(build_inception, args, inception)
    allcnn_kwargs = {} if args.full else {"widths": allcnn_widths}

    gcnn_kwargs = {} if args.full else {"widths": gcnn_widths, "hidden": 64}
    if args.gcnn_widths:
        gcnn_kwargs["widths"] = tuple(int(w) for w in args.gcnn_widths.split(","))
    if args.gcnn_hidden:
        gcnn_kwargs["hidden"] = args.gcnn_hidden
    return {
        "inception_run1": (inception_model, recipes.inception_run1, inception, inception),
        "inception_run2": (inception_model, recipes.inception_run2,
                           augment.inception_run2_augment(inception_size), inception),
        "inception_run1_adam": (inception_model, partial(recipes.adam_variant,
                                                         recipes.inception_run1),
                                inception, inception),
        "inception_finetune": (partial(build_inception, args, inception, freeze_backbone=False),
                               partial(recipes.adam_variant, recipes.inception_run1, lr=1e-4),
                               inception, inception),
        "all_cnn": (lambda: create_model("all_conv_net", **allcnn_kwargs), recipes.all_cnn,
                    augment.all_cnn_augment(**PATCH_STATS),
                    augment.patch_transform(**PATCH_STATS)),  # the All-CNN needs 96x96
        "all_cnn_adam": (lambda: create_model("all_conv_net", **allcnn_kwargs),
                         partial(recipes.adam_variant, recipes.all_cnn),
                         augment.all_cnn_augment(**PATCH_STATS),
                         augment.patch_transform(**PATCH_STATS)),
        "all_cnn_learning": (lambda: create_model("all_conv_net", **allcnn_kwargs),
                             recipes.all_cnn_learning, augment.all_cnn_augment(**PATCH_STATS),
                             augment.patch_transform(**PATCH_STATS)),
        "gcnn_seed_recipe": (lambda: create_model("gcnn", group="p4", **gcnn_kwargs),
                             recipes.gcnn_final, plain, plain),
        "gcnn_learning_recipe": (lambda: create_model("gcnn", group="p4", **gcnn_kwargs),
                                 recipes.gcnn_learning, plain, plain),
        # exactly invariant on sides 32 + 32k only: a 48 px patch is zero-padded to 64
        "p4m_densenet": (lambda: create_model("p4m_densenet", fit_input="pad",
                                              **({} if args.full else {"growth": 4})),
                         recipes.gcnn_learning, plain, plain),
    }


def build_inception(args: argparse.Namespace, transform: Any, freeze_backbone: bool = True) -> Any:
    """Inception v3 transfer; without a weights file, its BatchNorm statistics calibrated."""
    model = create_model("inception_v3_transfer", weights=args.inception_weights,
                         freeze_backbone=freeze_backbone,
                         aux_logits=args.full or args.inception_size >= 299)
    if args.inception_weights is None:  # the same 64 patches each time: a deterministic model
        root = Path(args.root) if args.root else Path(args.out) / "data"
        train = PCam(root, "train", transform=transform)
        calibrate_batchnorm(model, DataLoader(train, batch_size=32,
                                               sampler=range(min(64, len(train)))))
    return model


def train_resume_test(name: str, spec: tuple, root: Path, out: Path, epochs: int | None) -> dict:
    build, recipe_fn, train_tf, eval_tf = spec
    loaders = {}
    for split, tf in (("train", train_tf), ("valid", eval_tf), ("test", eval_tf)):
        loaders[split] = PCam(root, split, transform=tf)
    history: list[dict] = []
    for stage in ("first half", "resumed"):  # a fresh model and trainer each time
        torch.manual_seed(0)
        model = build()
        recipe = recipe_fn(model) if epochs is None else recipe_fn(model, epochs=epochs)
        trainer = Trainer.from_recipe(model, recipe, device="auto", seed=0,
                                      checkpoint_dir=out / name, progress=False)
        # a last batch of one patch cannot train BatchNorm on 1x1 maps (Inception's aux head
        # at 299: "Expected more than 1 value per channel"), so it is dropped
        train = DataLoader(loaders["train"], batch_size=recipe.batch_size, shuffle=True,
                           drop_last=len(loaders["train"]) % recipe.batch_size == 1)
        valid = DataLoader(loaders["valid"], batch_size=recipe.eval_batch_size)
        target = max(1, recipe.epochs // 2) if stage == "first half" else recipe.epochs
        history = trainer.fit(train, target, val_loader=valid, metrics=recipes.pcam_metrics())
        print(f"  {name}: {stage} to epoch {len(history)}, val AUC {history[-1]['val_auc']:.3f}")
    test = DataLoader(loaders["test"], batch_size=recipe.eval_batch_size)
    roc = {"roc": roc_curve}  # (N, 2) logits are scored by their softmax
    scores = trainer.evaluate(test, metrics={**recipes.pcam_metrics(), **roc})
    return {"run": name, "recipe": recipe.name, "accuracy": 100 * scores["accuracy"],
            "auc": scores["auc"], "parameters": sum(p.numel() for p in model.parameters()),
            "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
            "roc": scores["roc"], "history": history}


def print_table(rows: list[dict], random_inception: bool) -> None:
    print(f"\n{'run':<22}{'accuracy %':>11}{'AUC':>8}{'parameters':>13}{'trainable':>12}  recipe")
    for row in rows:
        print(f"{row['run']:<22}{row['accuracy']:>11.2f}{row['auc']:>8.3f}"
              f"{row['parameters']:>13,}{row['trainable']:>12,}  {row['recipe']}")
    if random_inception and any(row["run"].startswith("inception") for row in rows):
        print("inception_run*: a random frozen backbone (no --inception-weights), BatchNorm "
              "calibrated: a plumbing check on random features, not the seed's ImageNet runs; "
              "inception_finetune: that random backbone trained whole")
    print("\nthe seed's numbers (real PCam):")
    for row in recipes.PUBLISHED:
        auc = "-" if row["auc"] is None else f"{row['auc']:.2f}"
        print(f"  {row['model']:<36}{row['accuracy']:>7.2f}%  AUC {auc:<5} ({row['source']})")


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", help="real PCam folder (default: synthetic)")
    parser.add_argument("--out", help="checkpoint folder (default: a temp dir)")
    parser.add_argument("--n", type=int, default=256, help="synthetic patches per split")
    parser.add_argument("--epochs", type=int, default=None, help="default: each recipe's")
    parser.add_argument("--size", type=int, default=48, help="patch side on CPU runs")
    parser.add_argument("--inception-size", type=int, default=128,
                        help="Inception input side on CPU runs (299 with --full)")
    parser.add_argument("--inception-weights", help="ImageNet Inception v3 state dict file")
    parser.add_argument("--full", action="store_true", help="the seed's sizes")
    parser.add_argument("--gcnn-widths", help="the G-CNN runs' fields per stage, e.g. 48,96,192 "
                        "(the seed's final run); default 4,8,8 on CPU, 96,192,384 with --full")
    parser.add_argument("--gcnn-hidden", type=int,
                        help="the G-CNN runs' FC units; default 64 on CPU, 1024 with --full")
    parser.add_argument("--only", nargs="+", help="runs to do (default: all)")
    parser.add_argument("--figures", help="folder for the ROC and training-curve PNGs")
    args = parser.parse_args(argv)
    out = Path(args.out or tempfile.mkdtemp(prefix="pcam_classification_"))
    args.out, args.inception_size = str(out), 299 if args.full else args.inception_size
    root = Path(args.root) if args.root else make_pcam(out / "data", args.n, seed=0,
                                                       progress=False)
    rows = []
    for name, spec in runs(args).items():
        if args.only is None or name in args.only:
            rows.append(train_resume_test(name, spec, root, out, args.epochs))
    print_table(rows, args.inception_weights is None)
    print("\nEach seed recipe runs beside the one that learns (all_cnn_learning, "
          "gcnn_learning_recipe, *_adam): a seed recipe at AUC ~0.5 did not learn.")
    if args.figures:
        draw_figures(rows, Path(args.figures))
    return rows


def draw_figures(rows: list[dict], folder: Path) -> None:
    """``roc.png`` (every run's test ROC) and ``training_<run>.png`` (its validation curves)."""
    from histomammo.plot import plot_roc, plot_training_curves, save_figure

    folder.mkdir(parents=True, exist_ok=True)
    save_figure(plot_roc({row["run"]: {**row["roc"], "auc": row["auc"]} for row in rows},
                         title="test ROC, synthetic PCam"), folder / "roc.png", tight=True)
    for row in rows:
        figure = plot_training_curves(row["history"],
                                      keys=("loss", "val_loss", "val_auc", "val_accuracy"),
                                      title=f"{row['run']}: {row['recipe']}")
        save_figure(figure, folder / f"training_{row['run']}.png", tight=True)


if __name__ == "__main__":
    main()

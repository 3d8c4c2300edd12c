"""The claim behind the G-CNN: invariance to rotation without rotation augmentation.

A plain CNN and a P4M G-CNN of equal width (the same number of feature maps) are trained with
the engine on *upright-only* synthetic PCam (``make_pcam(upright=True)``: fibres, spindle and
tumour nuclei all run vertically; benign look-alike clusters have round nuclei), without any
rotation augmentation, then tested on the held-out patches as they are and turned by 90, 180
and 270 degrees. The G-CNN's AUC holds (its logits are invariant); the plain CNN's drops on the
patches turned by 90 and 270 degrees, where the tumour nuclei lie horizontally.

    python examples/pcam_equivariance.py                  # synthetic data, a few minutes on CPU
    python examples/pcam_equivariance.py --root PCAM_DIR  # the real PCam HDF5 files

``--figures DIR`` draws ``equivariance_roc.png``: both nets' test ROC curves on upright and on
90-degree-turned patches (``histomammo.plot.plot_roc``).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader
from torchvision.transforms import v2

from histomammo.datasets import PCam
from histomammo.datasets.synthetic import make_pcam
from histomammo.engine import Trainer
from histomammo.metrics.classification import roc_curve
from histomammo.models.equivariant import GCNN
from histomammo.models.equivariant_baseline import PlainCNN
from histomammo.systems.pcam import gcnn_learning, patch_transform, pcam_metrics


class Turn:
    """Turn an image ``(C, H, W)`` by ``k`` x 90 degrees (counter-clockwise)."""

    def __init__(self, k: int) -> None:
        self.k = k

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        return torch.rot90(image, self.k, dims=(-2, -1))


def train_and_test(name: str, model: torch.nn.Module, train: DataLoader,
                   tests: list[DataLoader], epochs: int, lr: float, out: Path) -> dict[str, Any]:
    """``{"auc_0", "auc_90", "auc_180", "auc_270"}`` and ``"roc_<angle>"`` curves."""
    recipe = gcnn_learning(model, epochs=epochs, lr=lr)  # the same recipe for both nets
    trainer = Trainer.from_recipe(model, recipe, device="auto", seed=0,
                      checkpoint_dir=out / name, progress=False)
    trainer.fit(train, recipe.epochs)
    metrics = {**pcam_metrics(), "roc": roc_curve}  # (N, 2) logits: scored by their softmax
    results: dict[str, Any] = {}
    for k, test in enumerate(tests):
        scores = trainer.evaluate(test, metrics=metrics)
        results[f"auc_{90 * k}"], results[f"roc_{90 * k}"] = scores["auc"], scores["roc"]
    return results


def draw_roc(results: dict[str, dict[str, Any]], path: Path) -> None:
    from histomammo.plot import plot_roc, save_figure

    path.parent.mkdir(parents=True, exist_ok=True)
    curves = {f"{name}, {angle} deg": {**aucs[f"roc_{angle}"], "auc": aucs[f"auc_{angle}"]}
              for name, aucs in results.items() for angle in (0, 90)}
    save_figure(plot_roc(curves, title="trained upright, tested upright and turned"), path,
                tight=True)


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", help="real PCam folder (default: synthetic, upright-only)")
    parser.add_argument("--out", default=None, help="checkpoint folder (default: a temp dir)")
    parser.add_argument("--n-train", type=int, default=512)
    parser.add_argument("--n-test", type=int, default=256)
    parser.add_argument("--size", type=int, default=48, help="patch side fed to the nets")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--widths", default="4,8,8", help="G-CNN fields per stage")
    parser.add_argument("--figures", help="folder for equivariance_roc.png")
    args = parser.parse_args(argv)

    out = Path(args.out or tempfile.mkdtemp(prefix="pcam_equivariance_"))
    root = Path(args.root) if args.root else make_pcam(
        out / "data", {"train": args.n_train, "test": args.n_test}, splits=["train", "test"],
        seed=0, upright=True, progress=False)
    transform = patch_transform(mean=(0.5,) * 3, std=(0.25,) * 3,
                                size=None if args.size == 96 else args.size)
    train = DataLoader(PCam(root, "train", transform=transform), batch_size=64, shuffle=True)
    tests = [DataLoader(PCam(root, "test", transform=v2.Compose([transform, Turn(k)])),
                        batch_size=128) for k in range(4)]

    widths = tuple(int(w) for w in args.widths.split(","))
    torch.manual_seed(0)
    models = {
        "G-CNN (P4M)": GCNN("p4m", widths=widths, hidden=64),
        "plain CNN": PlainCNN(channels=tuple(8 * w for w in widths), hidden=64),  # equal width
    }
    results = {name: train_and_test(name.split()[0].lower(), model, train, tests, args.epochs,
                                    args.lr, out) for name, model in models.items()}
    print(f"{'model':<14}" + "".join(f"{f'AUC {a} deg':>14}" for a in (0, 90, 180, 270))
          + f"{'max drop':>10}")
    aucs = {name: {k: v for k, v in r.items() if k.startswith("auc_")}
            for name, r in results.items()}
    for name, row in aucs.items():
        drop = row["auc_0"] - min(row.values())
        print(f"{name:<14}" + "".join(f"{v:>14.4f}" for v in row.values()) + f"{drop:>10.4f}")
    if args.figures:
        draw_roc(results, Path(args.figures) / "equivariance_roc.png")
    return aucs


if __name__ == "__main__":
    main()

"""Tumour-cell detection on BreCaHAD with the seed paper's Faster R-CNN, end to end.

``seeds/brecahad_faster_rcnn.txt``: ResNet-50-FPN Faster R-CNN (section 2.4.2 and the
annex), 512 x 680 patches interpolated to 1024 x 1360, batch size 1, learning rate 2e-5
multiplied by 0.98 every epoch, weight decay 5e-4, 100 epochs; 138 / 12 / 12 images, one
training patch per image per epoch, 5 validation and 10 test patches per image. This script
trains it with :class:`histomammo.engine.Trainer`, keeps the best-validation-loss snapshot,
and writes the training and validation total-loss curves (figures 2 and 3), the
true-positive and false-discovery rates against the score threshold (figure 4) with the
paper's 99.02% beside ours, and ground truth and predictions as circles at threshold 0.05.

Synthetic data by default (written in the exact layout); ``--root`` for the real dataset.

Run::

    python examples/brecahad_detection.py --tiny            # a few minutes on a CPU
    python examples/brecahad_detection.py --tiny --normalization dataset --min-distance 16
    python examples/brecahad_detection.py --root /data/BreCaHAD --device cuda  # the paper's run
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import torch

from histomammo.systems.brecahad import (
    PUBLISHED,
    build_detector,
    evaluate_test,
    load_splits,
    save_figures,
    train,
)

PAPER_TUMOUR_RECALL = PUBLISHED["tpr_lowest_threshold"]

# --tiny: small synthetic images and a CPU-sized input (the paper's architecture, fewer RoIs)
TINY = dict(size=(192, 256), patch_size=(96, 128),
            model=dict(min_size=96, max_size=128, box_batch_size_per_image=32,
                       rpn_batch_size_per_image=64, rpn_post_nms_top_n_test=100))


class _Images(torch.utils.data.Dataset):
    """The images of a detection dataset alone (for a mean/std over the training patches)."""

    def __init__(self, data):
        self.data = data

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        return self.data[i][0]


def _dataset_normalization(train_data) -> dict:
    from histomammo.datasets.stats import compute_mean_std  # issue 13's streaming mean/std

    mean, std = compute_mean_std(_Images(train_data), batch_size=8, progress=False)
    print(f"dataset normalization: mean {np.round(mean, 4)}, std {np.round(std, 4)}")
    return dict(normalization="dataset", image_mean=mean.tolist(), image_std=std.tolist())


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, help="a BreCaHAD copy (images/, groundTruth/)")
    parser.add_argument("--out", type=Path, default=Path("brecahad_out"))
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--tiny", action="store_true", help="small sizes, at most 3 epochs, lr >= 1e-4: CPU minutes")
    parser.add_argument("--patches", choices=["crop", "downscale"], default="crop")
    parser.add_argument("--normalization", choices=["paper", "dataset"], default="paper")
    parser.add_argument("--weights-backbone", type=Path, help="a torchvision ResNet-50 .pth")
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-distance", type=float, help="report the rates after "
                        "postprocess.suppress_duplicates at this many pixels (the "
                        "library's addition: the paper's NMS 0.8 keeps duplicates of a cell)")
    parser.add_argument("--cases", type=int, help="synthetic cases (default 27, --tiny 4)")
    parser.add_argument("--images-per-case", type=int, help="synthetic (default 6, --tiny 3)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    epochs, lr = (min(args.epochs, 3), max(args.lr, 1e-4)) if args.tiny else (args.epochs, args.lr)

    root, options, model_options = args.root, {}, {}
    if args.tiny:
        options, model_options = dict(patch_size=TINY["patch_size"], image_size=TINY["size"]), TINY["model"]
    if root is None:
        from histomammo.datasets.synthetic import make_brecahad

        size = TINY["size"] if args.tiny else (1024, 1360)
        n_cases, per_case = (4, 3) if args.tiny else (27, 6)  # 162 images like the real set
        n_cases, per_case = args.cases or n_cases, args.images_per_case or per_case
        root = make_brecahad(args.out / "synthetic", n_cases=n_cases, images_per_case=per_case,
                             size=size, seed=args.seed)
    data = load_splits(root, seed=args.seed, patches=args.patches, **options)
    print("images per split:", {s: len(d.names) for s, d in data.items()},
          "patches:", {s: len(d) for s, d in data.items()}, "(paper: 138/12/12 images, "
          "138/60/120 patches)")
    normalization = {"normalization": "paper"}
    if args.normalization == "dataset":
        normalization = _dataset_normalization(data["train"])
        model_options = {**model_options, **normalization}
    torch.manual_seed(args.seed)
    model = build_detector(data["train"], weights_backbone=args.weights_backbone,
                           **model_options)
    trainer, history, best = train(model, data, args.out, epochs=epochs, seed=args.seed,
                                   lr=lr, device=args.device, progress=True)
    print(f"best-validation snapshot: {best}")
    evaluation = evaluate_test(trainer, data["test"], min_distance=args.min_distance)
    figures = save_figures(args.out, history, evaluation, data["test"])
    counts = evaluation["at_0.05"]
    if args.min_distance is not None:
        print(f"rates after suppress_duplicates(min_distance={args.min_distance:g}); the raw "
              "predictions are the paper's")
    print(f"test: {counts['n_ground_truth']} tumour cells in {len(data['test'])} patches")
    print(f"  TPR at the lowest threshold: ours {evaluation['tpr_lowest_threshold']:.2%}  "
          f"paper {PAPER_TUMOUR_RECALL:.2%}")
    print(f"  at threshold 0.05: TPR {counts['recall']:.2%}, FDR {counts['fdr']:.2%}; "
          f"AP50 {evaluation['ap50']}")
    summary = {"history": history, "at_0.05": counts, "ap50": evaluation["ap50"],
               "tpr_lowest_threshold": evaluation["tpr_lowest_threshold"],
               "paper_tpr_lowest_threshold": PAPER_TUMOUR_RECALL, "figures": figures,
               "normalization": normalization, "min_distance": args.min_distance}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    print(f"figures and summary in {args.out}")
    return summary


if __name__ == "__main__":
    main()

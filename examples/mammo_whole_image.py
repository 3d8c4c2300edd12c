"""Whole-mammogram classification as the thesis did it, printed beside the thesis's tables.

INbreast-shaped data (synthetic by default, ``--root`` for the real release) -> cropping
(``--preprocess crop``, 224x224) or naive (``naive``, 512x416) preprocessing ->
``alexnet_grey`` / ``alexnet_large`` / ``resnet50_grey`` -> best-validation-loss snapshot ->
a row shaped like table 6.3 and rows like table 6.4 (per-breast mean / max / min), with
patient-bootstrap 95% intervals. ``--target view`` runs the CC-vs-MLO pipeline check of
section 6.2 with the thesis's recipe (SGD 0.01, 10 epochs; markers removed by the
preprocessing, so the anatomy must carry the view) and prints the accuracy after the
first epoch; ``--marker-ablation`` shows that the synthetic markers alone would give the
view away if the preprocessing did not remove them.

Examples
--------
    python examples/mammo_whole_image.py                       # synthetic, small, ~2 min CPU
    python examples/mammo_whole_image.py --target view --epochs 1   # > 99% in one epoch
    python examples/mammo_whole_image.py --marker-ablation     # markers kept vs removed
    python examples/mammo_whole_image.py --root /data/INbreast --model resnet50_grey \\
        --size 224 224 --epochs 40 --optimizer sgd --width 1 --fc-size 4096
"""

from __future__ import annotations

import argparse
from pathlib import Path

from histomammo.systems.thesis import (
    THESIS_SOURCE,
    THESIS_TABLE_6_3,
    THESIS_TABLE_6_4,
    VIEW_CHECK_EPOCHS,
    marker_ablation_run,
    whole_image_run,
)

NETWORK = {"alexnet_grey": "alexnet", "alexnet_large": "alexnet_large",
           "resnet50_grey": "reduced_resnet"}
COLUMNS = {"val_auc": "Val AUC", "val_specificity": "Val Spec", "test_auc": "Test AUC",
           "test_sensitivity": "Test Sen", "test_specificity": "Test Spec",
           "test_accuracy": "Acc", "test_threshold_accuracy": "T-Acc"}


def _pct(value: float) -> str:
    return f"{100 * value:5.1f}%"


def _view_check(args: argparse.Namespace, results: dict) -> None:
    first = results["history"][0]["val_accuracy"]
    print(f"CC vs MLO, markers removed, {args.optimizer} optimiser, batch {args.batch_size}:")
    print("  validation accuracy per epoch: "
          + " ".join(f"{_pct(r['val_accuracy'])}" for r in results["history"]))
    print(f"  after one epoch {_pct(first)} (thesis section 6.2: above 99% in one epoch)")
    print(f"  test accuracy of the best-val-loss snapshot ({args.epochs} epoch(s)): "
          f"{_pct(results['test_accuracy'])}")


def _defaults(args: argparse.Namespace) -> None:
    """Per-target defaults: the view check runs the thesis's recipe on more images."""
    view = args.target == "view"
    if args.epochs is None:
        args.epochs = VIEW_CHECK_EPOCHS if view else 12
    if args.optimizer is None:
        args.optimizer = "sgd" if view else "adam"
    if args.batch_size is None:
        args.batch_size = 8 if view else 16
    if args.n_patients is None:
        args.n_patients = 350 if view else 80


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, help="INbreast release folder (default: synthetic)")
    parser.add_argument("--out", type=Path, default=Path("mammo_whole_image_out"))
    parser.add_argument("--model", choices=sorted(NETWORK), default="alexnet_grey")
    parser.add_argument("--preprocess", choices=("crop", "naive"), default="crop")
    parser.add_argument("--size", type=int, nargs=2, default=(128, 104), metavar=("H", "W"))
    parser.add_argument("--epochs", type=int, help="default 12; view check 10 (the thesis)")
    parser.add_argument("--optimizer", choices=("sgd", "adam"),
                        help="thesis: SGD 0.01 (the thesis; view-check default); adam: 1e-3 "
                             "(default of the short synthetic cancer runs)")
    parser.add_argument("--batch-size", type=int, help="default 16; view check 8")
    parser.add_argument("--width", type=float, default=0.25, help="AlexNet filter multiplier")
    parser.add_argument("--fc-size", type=int, default=256, help="AlexNet FC width (4096)")
    parser.add_argument("--target", choices=("cancer", "view"), default="cancer")
    parser.add_argument("--n-patients", type=int, help="synthetic patients (80; view 350)")
    parser.add_argument("--keep-markers", action="store_true",
                        help="skip the preprocessing's marker removal")
    parser.add_argument("--anatomy", choices=("CC", "MLO"),
                        help="draw every synthetic image with this view's anatomy")
    parser.add_argument("--marker-ablation", action="store_true",
                        help="view check on CC-anatomy images, markers kept vs removed")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    extra = ({"width": args.width, "fc_size": args.fc_size}
             if args.model.startswith("alexnet") else {})
    if args.marker_ablation:
        accuracy = marker_ablation_run(args.out, args.seed, size=tuple(args.size), **extra)
        print("view check on images drawn with CC anatomy (the marker text the only cue), "
              "naive preprocessing, Adam, 3 epochs; test accuracy:")
        for name, value in accuracy.items():
            print(f"  {name:16} {_pct(value)}")
        return
    _defaults(args)
    results = whole_image_run(args.out, args.seed, root=args.root, model_name=args.model,
                              size=tuple(args.size), epochs=args.epochs, target=args.target,
                              preprocess=args.preprocess, n_patients=args.n_patients,
                              optimizer=args.optimizer, batch_size=args.batch_size,
                              remove_markers=not args.keep_markers, anatomy=args.anatomy,
                              **extra)
    if args.target == "view":
        _view_check(args, results)
        return
    network = NETWORK[args.model]
    print(f"Table 6.3 shape (yours vs {THESIS_SOURCE}):")
    print(f"{'':28}" + "".join(f"{header:>11}" for header in COLUMNS.values()))
    print(f"{'this run':28}" + "".join(f"{_pct(results['table_6_3'][c]):>11}" for c in COLUMNS))
    for (name, epochs), row in THESIS_TABLE_6_3.items():
        if name == network:
            print(f"{f'thesis {name}, {epochs} ep':28}" + "".join(f"{_pct(row[c]):>11}"
                                                                 for c in COLUMNS))
    for metric, ci in results["ci"].items():
        print(f"{metric}: {ci['estimate']:.3f} (95% patient bootstrap {ci['low']:.3f}-"
              f"{ci['high']:.3f})")
    print("\nTable 6.4 shape (test AUC / specificity per breast):")
    published = THESIS_TABLE_6_4[network]
    for how in ("min", "max", "mean"):
        row = results["table_6_4"][how]
        print(f"  {how:5} this run {_pct(row['test_auc'])} / {_pct(row['test_specificity'])}"
              f"   thesis {_pct(published[how]['auc'])} / {_pct(published[how]['specificity'])}")
    print(f"\nfigures in {args.out}: roc.png, training.png")


if __name__ == "__main__":
    main()

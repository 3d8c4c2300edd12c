"""Shen et al.'s patch-to-whole-image classifier on CBIS-DDSM-shaped data.

CBIS-DDSM tree (synthetic by default, ``--root`` for the real release) -> S10 patches from
the ROI masks (five classes) -> VGG16-GAP patch classifier (randomly initialised: the paper's
constant 1e-3, batch-balanced loss) -> conversion into the all-convolutional whole-image
classifier -> Shen's 2 stages (top layers, then all) -> whole-image test AUC, with and
without the heatmap. Sizes, widths and epochs are small by default so it runs in a few
minutes on a CPU; the paper's are 224-pixel patches, full VGG16 (``--width 1``), 50 patch
epochs and 30 + 20 whole-image epochs.

Examples
--------
    python examples/mammo_patch_to_whole.py
    python examples/mammo_patch_to_whole.py --root /data/CBIS-DDSM --patch-size 224 --width 1
"""

from __future__ import annotations

import argparse
from pathlib import Path

from histomammo.systems.shen import patch_to_whole_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, help="CBIS-DDSM folder with the four CSVs")
    parser.add_argument("--out", type=Path, default=Path("mammo_patch_to_whole_out"))
    parser.add_argument("--n-patients", type=int, default=40, help="synthetic patients")
    parser.add_argument("--shape", type=int, nargs=2, default=(128, 104), metavar=("H", "W"))
    parser.add_argument("--patch-size", type=int, default=32)
    parser.add_argument("--width", type=float, default=0.125, help="VGG16 filter multiplier")
    parser.add_argument("--patch-epochs", type=int, default=10)
    parser.add_argument("--image-epochs", type=int, nargs=2, default=(3, 5))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    results = patch_to_whole_run(
        args.out, args.seed, root=args.root, n_patients=args.n_patients,
        shape=tuple(args.shape), patch_size=args.patch_size, width=args.width,
        patch_epochs=(1, 1, args.patch_epochs - 2), image_epochs=tuple(args.image_epochs))
    print(f"{results['n_patches']} training patches")
    for name in ("without heatmap", "with heatmap"):
        print(f"whole-image test AUC {name}: {results[name]['test_auc']:.3f}")
    print("(The seed excerpt of Shen et al. states no result table to compare with; small "
          "synthetic runs would not be comparable anyway.)")
    print(f"figures in {args.out}: roc_patch_to_whole.png, patch_training.png")


if __name__ == "__main__":
    main()

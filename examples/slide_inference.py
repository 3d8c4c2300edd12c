"""Whole-slide inference: a PCam classifier's heatmap and FROC, a U-Net over a large image, cell detection.

1. ``heatmap``: ``histomammo.systems.pcam.slide_heatmap_run`` (the demo's
   ``slide_inference`` stage): synthetic tiled slides with known tumour regions; a PCam-format
   patch set cut from three of them (``make_pcam_from_slides``, 96 px at level 1); a small
   CNN trained on it for a few epochs; ``classify_slide`` over the two held-out slides; the
   heatmap overlay figure; Camelyon16's FROC (lesion detections from
   ``heatmap_to_detections``) and the slide-level AUC over tumour and tumour-free regions of
   the held-out slides.
2. ``segment``: the GlaS system's reduced U-Net trained briefly (its recipe: Adam 3e-3,
   normalised inputs, BCE) on crops of four GlaS-like images, then ``segment_slide`` over a
   1536 x 2048 one, written tile by tile to ``.zarr``; its Dice against the drawn glands.
3. ``blend``: a segmenter whose output drifts from tile to tile, blended by the mean of the
   tiles' centres and by Gaussian weights: the seams of the first, none in the second.
4. ``detect``: the BreCaHAD Faster R-CNN over a large synthetic H&E image with
   ``detect_slide`` (cells cut by tile borders merged), written as QuPath GeoJSON. Pass
   ``--detector-weights`` (a state dict saved by ``examples/brecahad_detection.py``) for
   meaningful cells; without it the detector is untrained and the part shows the plumbing.

    python examples/slide_inference.py --out runs/slides              # all four parts
    python examples/slide_inference.py --parts heatmap --quick        # under a minute on a CPU
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

from histomammo.datasets.synthetic import draw_glands, make_brecahad
from histomammo.inference import detect_slide, segment_slide, write_geojson
from histomammo.io import TiffImage
from histomammo.models import create_model, fasterrcnn_brecahad
from histomammo.systems.glas import GLAS_MEAN, GLAS_STD
from histomammo.systems.pcam import slide_heatmap_run


def heatmap_part(out: Path, args: argparse.Namespace) -> None:
    """The workflow of ``histomammo.systems.pcam.slide_heatmap_run`` (also the demo's stage)."""
    options = {} if args.quick else {"side": 2048, "n_train": 4, "n_patches": 1536, "epochs": 6}
    results = slide_heatmap_run(out / "heatmap", args.seed, **options)
    print(f"FROC score {results['froc']:.3f} (sensitivities at 1/4..8 FPs/slide: "
          f"{[round(s, 2) for s in results['sensitivities']]}, {results['lesions']} lesions)")
    print(f"slide-level AUC over {results['regions']} regions ({results['tumour_regions']} with "
          f"tumour): {results['slide_auc']:.3f}")
    print(f"figure: {results['figure']}")


class Normalise(torch.nn.Module):
    """The GlaS system's input normalisation, inside the model (``segment_slide`` feeds [0, 1])."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(GLAS_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(GLAS_STD).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def train_unet(args: argparse.Namespace, rng: np.random.Generator) -> torch.nn.Module:
    """The GlaS system's reduced U-Net and recipe (Adam 3e-3, BCE on the gland mask, inputs
    normalised by ``GLAS_MEAN``/``GLAS_STD``) on random 128 px crops, batches of 8, with
    flips, from four 512 x 512 GlaS-like images."""
    torch.manual_seed(args.seed)
    model = torch.nn.Sequential(Normalise(), create_model("unet", base_channels=8, depth=3))
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    drawn = [draw_glands((512, 512), rng) for _ in range(4)]
    x = torch.stack([torch.from_numpy(i.transpose(2, 0, 1).copy()) for i, _ in drawn]).float() / 255
    y = torch.stack([torch.from_numpy((m > 0).astype(np.float32)) for _, m in drawn])[:, None]
    for step in range(80 if args.quick else 150):
        picks = zip(rng.integers(0, 4, 8), *rng.integers(0, 512 - 128, (2, 8)), strict=True)
        crops = [(x[i, :, t : t + 128, u : u + 128], y[i, :, t : t + 128, u : u + 128])
                 for i, t, u in picks]
        images, masks = (torch.stack(parts) for parts in zip(*crops, strict=True))
        if step % 2:
            images, masks = images.flip(3), masks.flip(3)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(images), masks)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    print(f"  U-Net: training loss {loss.item():.3f} after {step + 1} steps")
    return model.eval()


def segment_part(out: Path, args: argparse.Namespace) -> None:
    rng = np.random.default_rng(args.seed)
    model = train_unet(args, rng)
    image, mask = draw_glands((1536, 2048), rng)
    path = segment_slide(model, image, patch_size=256, overlap=32, tissue=None,
                         out=out / "glands.zarr", resume=True, batch_size=4, progress=False)
    import zarr

    probs = zarr.open_group(path, mode="r")["0"][0]
    predicted, truth = probs > 0.5, mask > 0
    dice = 2 * (predicted & truth).sum() / max(predicted.sum() + truth.sum(), 1)
    print(f"segment_slide over a {image.shape[0]}x{image.shape[1]} image -> {path} "
          f"(levels {sorted(zarr.open_group(path, mode='r').array_keys())}): mean gland "
          f"probability {probs[truth].mean():.3f} on glands, {probs[~truth].mean():.3f} off them; "
          f"Dice at 0.5 {dice:.3f}")


class TileBiased(torch.nn.Module):
    """A segmenter whose logits shift with each tile's mean colour, as real ones drift a little
    from tile to tile: where tiles meet, blending decides whether seams show."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        smooth = torch.nn.functional.avg_pool2d(x[:, :1], 9, 1, 4, count_include_pad=False)
        shift = 10 * (x.mean(dim=(1, 2, 3), keepdim=True) - 0.75)
        logit = 3 * (smooth - 0.8) + shift
        return torch.cat([logit, -logit], 1)


def blend_part(out: Path, args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    image, _ = draw_glands((384, 512), np.random.default_rng(args.seed))
    figure, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    axes[0].imshow(image)
    axes[0].set_title("GlaS-like image; tiles 128 px, overlap 32 px")
    for axis, blend in zip(axes[1:], ("mean", "gaussian"), strict=True):
        probs = segment_slide(TileBiased(), image, patch_size=128, overlap=32, blend=blend,
                              tissue=None, progress=False)[0]
        change = np.hypot(*np.gradient(probs))  # seams show as straight lines
        axis.imshow(change, cmap="magma", vmin=0, vmax=0.02)
        axis.set_title(f'|gradient| of blend="{blend}" probabilities (max {change.max():.3f})')
    for axis in axes:
        axis.axis("off")
    figure.tight_layout()
    figure.savefig(out / "blending.png", dpi=100)
    plt.close(figure)
    print(f"figure: {out / 'blending.png'}")


def detect_part(out: Path, args: argparse.Namespace) -> None:
    root = make_brecahad(out / "brecahad", n_cases=1, images_per_case=1, size=(1024, 1360),
                         seed=args.seed)
    image_path = next(root.rglob("*.tif"))
    model = fasterrcnn_brecahad(weights=args.detector_weights, min_size=512, max_size=680)
    with TiffImage(image_path) as image:
        found = detect_slide(model, image, patch_size=(512, 680), overlap=64, tissue=None,
                             batch_size=2, progress=False)
    path = write_geojson(found, out / "cells.geojson", class_names={1: "tumour cell"})
    state = "trained" if args.detector_weights else "untrained (pass --detector-weights)"
    print(f"detect_slide ({state}): {len(found['boxes'])} cells on {image_path.name}, "
          f"merged across tile borders -> {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="output folder (a temp dir)")
    parser.add_argument("--parts", default="heatmap,segment,blend,detect")
    parser.add_argument("--quick", action="store_true", help="smaller slides, fewer epochs")
    parser.add_argument("--detector-weights", default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="slide_inference_"))
    out.mkdir(parents=True, exist_ok=True)
    parts = {"heatmap": heatmap_part, "segment": segment_part, "blend": blend_part,
             "detect": detect_part}
    for name in args.parts.split(","):
        print(f"== {name}")
        parts[name](out, args)


if __name__ == "__main__":
    main()

"""Whole-slide inference: a PCam classifier's heatmap and FROC, a U-Net over a large image, cell detection.

1. ``heatmap``: synthetic tiled slides with known tumour regions; a PCam-format patch set
   cut from four of them (``make_pcam_from_slides``, 96 px at level 1); a small CNN trained on
   it for a few epochs; ``classify_slide`` over the two held-out slides; the heatmap overlay
   figure; Camelyon16's FROC (lesion detections from ``heatmap_to_detections``) and the
   slide-level AUC over tumour and tumour-free regions of the held-out slides.
2. ``segment``: a U-Net trained briefly on one GlaS-like image, then ``segment_slide`` over a
   larger one, written tile by tile to ``.zarr``; its Dice against the drawn glands.
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
from torch.utils.data import DataLoader

from histomammo.datasets import PCam, make_pcam_from_slides
from histomammo.datasets.synthetic import draw_glands, make_brecahad, make_slide
from histomammo.inference import classify_slide, detect_slide, segment_slide, write_geojson
from histomammo.io import TiffImage
from histomammo.metrics import froc, heatmap_to_detections, slide_auc
from histomammo.models import create_model, fasterrcnn_brecahad


def to_float(image: torch.Tensor) -> torch.Tensor:
    """What the inference functions feed a model by default: float32 in [0, 1]."""
    return image.float() / 255


def patch_classifier() -> torch.nn.Module:
    """A small CNN for 96 px patches; inputs in [0, 1] are centred inside the model."""
    layers: list[torch.nn.Module] = []
    for width_in, width in ((3, 16), (16, 32), (32, 32)):
        layers += [torch.nn.Conv2d(width_in, width, 3, padding=1), torch.nn.ReLU(),
                   torch.nn.MaxPool2d(2)]
    return torch.nn.Sequential(Centre(), *layers[:-1], torch.nn.AdaptiveAvgPool2d(1),
                               torch.nn.Flatten(), torch.nn.Linear(32, 2))


class Centre(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - 0.5) / 0.25


def train_classifier(root: Path, epochs: int, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = patch_classifier()
    data = PCam(root, "train", transform=to_float)
    loader = DataLoader(data, batch_size=64, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-3)
    model.train()
    for epoch in range(epochs):
        total = 0.0
        for images, labels in loader:
            loss = torch.nn.functional.cross_entropy(model(images), labels)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(labels)
        print(f"  epoch {epoch + 1}: training loss {total / len(data):.3f}")
    return model.eval()


def overlay(image: np.ndarray, probs: np.ndarray, tumour: np.ndarray, factor: int,
            path: Path) -> None:
    """The level-2 image with the tumour outlined (mask pixels ``factor`` image pixels wide)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 5))
    axes[0].imshow(image)
    outline = np.kron(tumour, np.ones((factor, factor)))[: image.shape[0], : image.shape[1]]
    for axis in axes:
        axis.contour(outline, levels=[0.5], colors="lime", linewidths=1)
    axes[0].set_title("held-out slide (level 2), tumour outlined")
    axes[1].imshow(image)
    shown = axes[1].imshow(probs, cmap="magma", vmin=0, vmax=1, alpha=0.6)
    axes[1].set_title("classify_slide: tumour probability")
    figure.colorbar(shown, ax=axes[1], fraction=0.046)
    for axis in axes:
        axis.axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def heatmap_part(out: Path, args: argparse.Namespace) -> None:
    side, count = (1024, 4) if args.quick else (2048, 6)
    slides = [make_slide(out / f"slide_{i}.tif", (side, side), tile=256, levels=3, seed=i)
              for i in range(count)]
    train, held_out = slides[:-2], slides[-2:]
    pcam = make_pcam_from_slides([s.path for s in train], [s.tumour for s in train],
                                 out / "pcam", level=1, n_patches=384 if args.quick else 1536,
                                 splits=["train"] * len(train), progress=False)
    model = train_classifier(pcam, 3 if args.quick else 6, args.seed)
    detections, masks, scores, labels = [], [], [], []
    for slide in held_out:
        with TiffImage(slide.path) as image:
            heatmap = classify_slide(model, image, patch_size=96, stride=48, level=1,
                                     tissue="otsu", batch_size=64, progress=False)
            thumbnail = image.read_region(0, 0, *image.levels[2].shape[:2], level=2)
            quarter = side // 8  # 4 x 4 regions of level 1, each scored like a slide
            for top in range(0, side // 2, quarter):
                for left in range(0, side // 2, quarter):
                    region = image.read_region(top, left, quarter, quarter, level=1)
                    crop = classify_slide(model, region, patch_size=96, stride=32,
                                          tissue=None, progress=False)
                    scores.append(float(np.nanmax(crop.probabilities[..., 1])))
                    rows = slice(2 * top // slide.downsample, 2 * (top + quarter) // slide.downsample)
                    cols = slice(2 * left // slide.downsample,
                                 2 * (left + quarter) // slide.downsample)
                    labels.append(int(slide.tumour[rows, cols].mean() > 0.1))
        detections.append(heatmap_to_detections(heatmap, threshold=0.5))
        masks.append(slide.tumour)
        print(f"  {slide.path.name}: {heatmap.shape[0]}x{heatmap.shape[1]} patches, "
              f"{int(np.isfinite(heatmap.probabilities[..., 0]).sum())} on tissue, "
              f"{len(detections[-1]['scores'])} lesion detections")
    overlay(thumbnail, heatmap.to_image(level=2)[..., 1], slide.tumour, slide.downsample // 4,
            out / "heatmap.png")
    # the synthetic slides are a few thousand pixels across: read at 2 um per pixel, their
    # tumours are lesions (at Camelyon16's 0.243 um they would all be isolated tumour cells)
    result = froc(detections, masks, mpp=2.0, mask_downsample=held_out[0].downsample)
    print(f"FROC score {result['score']:.3f} (sensitivities at 1/4..8 FPs/slide: "
          f"{[round(s, 2) for s in result['sensitivities']]}, {result['lesions']} lesions)")
    if 0 < sum(labels) < len(labels):
        print(f"slide-level AUC over {len(labels)} regions ({sum(labels)} with tumour): "
              f"{slide_auc(scores, labels):.3f}")
    print(f"figure: {out / 'heatmap.png'}")


def segment_part(out: Path, args: argparse.Namespace) -> None:
    rng = np.random.default_rng(args.seed)
    train_image, train_mask = draw_glands((512, 512), rng)
    torch.manual_seed(args.seed)
    model = create_model("unet", base_channels=8, depth=3)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    x = torch.from_numpy(train_image.transpose(2, 0, 1).copy()).float()[None] / 255
    y = torch.from_numpy((train_mask > 0).astype(np.float32))[None, None]
    for _ in range(200 if not args.quick else 80):
        top, left = rng.integers(0, 512 - 256, 2)
        logits = model(x[..., top : top + 256, left : left + 256])
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            logits, y[..., top : top + 256, left : left + 256])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    image, mask = draw_glands((1536, 2048), rng)
    path = segment_slide(model.eval(), image, patch_size=256, overlap=32, tissue=None,
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

"""Whole-slide inference: tiles per second and peak memory, histomammo vs MONAI vs TIAToolbox.

Two claims, one script, every contender run once in its own subprocess (so its peak RSS,
``ru_maxrss``, is its own), on one thread (``torch.set_num_threads(1)``), ``num_workers=0``:

``speed``
    The same synthetic H&E slide (a tiled pyramidal TIFF written by
    ``histomammo.datasets.synthetic.make_slide``, levels as pages so OpenSlide reads it),
    the same seeded models, the same tiles, no tissue filter (every tile is run):

    - classification, 96 px patches on a 96 px grid at level 0 (a small CNN):
      ``classify_slide`` on the ``TiffImage``; MONAI's ``PatchWSIDataset`` (OpenSlide reader)
      in a ``DataLoader`` loop; TIAToolbox's ``PatchPredictor.run`` (WSI mode), in its own venv
      (it pins another torch) when ``--tiatoolbox`` names that venv's python;
    - segmentation, 256 px tiles overlapping by 32 px, Gaussian blending, over the level-0
      array in memory (a small fully-convolutional net): ``segment_slide`` on the array;
      MONAI's ``SlidingWindowInferer(mode="gaussian")`` on the same array;
      TIAToolbox's ``SemanticSegmentor.run`` on the TIFF.

``memory``
    ``segment_slide(..., out=.zarr)`` on 20,000 x 20,000 and 60,000 x 60,000 synthetic slides
    (written tile by tile, never held in memory) at ``--level``; peak RSS of each run.

Usage::

    python benchmarks/bench_slide_inference.py speed [--side 4096] [--tiatoolbox /work/benchvenv/tiatoolbox/bin/python]
        [--repeat 3] [--models tiny|realistic] [--channels-last]
    python benchmarks/bench_slide_inference.py memory [--level 2] [--folder /tmp/big]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

HERE = Path(__file__).resolve()
CLASSIFY = {"patch": 96, "batch": 64}
SEGMENT = {"patch": 256, "overlap": 32, "batch": 8}


class PatchCNN(nn.Module):
    """A small patch classifier: (N, 3, 96, 96) -> (N, 2) logits."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(32, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class PixelFCN(nn.Module):
    """A small segmenter: (N, 3, h, w) -> (N, 2, h, w) logits."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(8, 2, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class DeeperFCN(nn.Module):
    """A realistic-cost segmenter: a two-scale encoder-decoder, 32-64 channels, 8 convolutions."""

    def __init__(self) -> None:
        super().__init__()

        def block(a: int, b: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(a, b, 3, padding=1), nn.ReLU(),
                                 nn.Conv2d(b, b, 3, padding=1), nn.ReLU())

        self.down, self.bottom = block(3, 32), block(32, 64)
        self.up = nn.ConvTranspose2d(64, 32, 2, stride=2)
        self.decode, self.head = block(64, 32), nn.Conv2d(32, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.down(x)
        deep = self.bottom(nn.functional.max_pool2d(skip, 2))
        return self.head(self.decode(torch.cat([skip, self.up(deep)], 1)))


LAYOUT = {"channels_last": False}  # set by a contender name ending in "_nhwc"
MODELS = {"size": "tiny"}  # "realistic": torchvision's ResNet-18 and DeeperFCN


def build(kind: str) -> nn.Module:
    """The seeded model; channels-last (NHWC) weights for the ``*_nhwc`` runs."""
    torch.manual_seed(0)
    if MODELS["size"] == "realistic":
        import torchvision

        model = (torchvision.models.resnet18(num_classes=2) if kind == "classify"
                 else DeeperFCN()).eval()
    else:
        model = (PatchCNN() if kind == "classify" else PixelFCN()).eval()
    if LAYOUT["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
    return model


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _grid_count(side: int, patch: int, step: int) -> int:
    count = len(range(0, side - patch + 1, step))
    return count + (1 if (count - 1) * step + patch < side else 0)


# ---------------------------------------------------------------- contenders (one per process)
def histomammo_classify(slide: str) -> Callable[[], int]:
    from histomammo.inference import classify_slide
    from histomammo.io import TiffImage

    model = build("classify")

    def run() -> int:
        with TiffImage(slide) as image:
            heatmap = classify_slide(model, image, patch_size=CLASSIFY["patch"], tissue=None,
                                     batch_size=CLASSIFY["batch"], progress=False)
        return int(np.isfinite(heatmap.probabilities[..., 0]).sum())

    return run


def monai_classify(slide: str) -> Callable[[], int]:
    import openslide
    from monai.data import PatchWSIDataset

    model = build("classify")

    def run() -> int:
        height, width = openslide.OpenSlide(slide).dimensions[::-1]
        patch = CLASSIFY["patch"]
        data = [{"image": slide, "location": (y, x), "label": 0}
                for y in range(0, height - patch + 1, patch)
                for x in range(0, width - patch + 1, patch)]
        dataset = PatchWSIDataset(data, patch_size=patch, patch_level=0, center_location=False,
                                  include_label=False, reader="OpenSlide")
        loader = torch.utils.data.DataLoader(dataset, batch_size=CLASSIFY["batch"], num_workers=0)
        seen = 0
        with torch.inference_mode():
            for batch in loader:
                image = batch["image"] if isinstance(batch, dict) else batch[0]
                torch.softmax(model(torch.as_tensor(image).float() / 255), 1)
                seen += len(image)
        return seen

    return run


def _array(slide: str) -> np.ndarray:
    from histomammo.io import TiffImage

    with TiffImage(slide) as image:
        return image.read_region(0, 0, *image.shape[:2])


def _segment_tiles(shape: tuple[int, ...]) -> int:
    step = SEGMENT["patch"] - SEGMENT["overlap"]
    return _grid_count(shape[0], SEGMENT["patch"], step) * \
        _grid_count(shape[1], SEGMENT["patch"], step)


def histomammo_segment(slide: str) -> Callable[[], int]:
    from histomammo.inference import segment_slide

    array, model = _array(slide), build("segment")

    def run() -> int:
        segment_slide(model, array, patch_size=SEGMENT["patch"], overlap=SEGMENT["overlap"],
                      tissue=None, batch_size=SEGMENT["batch"], progress=False)
        return _segment_tiles(array.shape)

    return run


def monai_segment(slide: str) -> Callable[[], int]:
    from monai.inferers import SlidingWindowInferer

    array, model = _array(slide), build("segment")

    def run() -> int:
        inferer = SlidingWindowInferer(roi_size=(SEGMENT["patch"],) * 2,
                                       sw_batch_size=SEGMENT["batch"],
                                       overlap=SEGMENT["overlap"] / SEGMENT["patch"],
                                       mode="gaussian", sigma_scale=0.125, progress=False)
        x = torch.from_numpy(array).permute(2, 0, 1)[None].float() / 255
        with torch.inference_mode():
            inferer(x, lambda t: torch.softmax(model(t), 1))
        return _segment_tiles(array.shape)

    return run


def _tia_model(kind: str):  # noqa: ANN202  (TIAToolbox's ModelABC, importable only in its venv)
    from tiatoolbox.models.models_abc import ModelABC

    class Wrapped(ModelABC):
        def __init__(self) -> None:
            super().__init__()
            self.net = build(kind)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x)

        @staticmethod
        def infer_batch(model: nn.Module, batch_data: torch.Tensor, device: str) -> np.ndarray:
            x = torch.as_tensor(batch_data).to(device).permute(0, 3, 1, 2).float() / 255
            with torch.inference_mode():
                probs = torch.softmax(model(x), 1)
            return (probs if probs.ndim == 2 else probs.permute(0, 2, 3, 1)).cpu().numpy()

    return Wrapped().eval()


def tiatoolbox_classify(slide: str) -> Callable[[], int]:
    import zarr
    from tiatoolbox.models.engine.io_config import IOPatchPredictorConfig
    from tiatoolbox.models.engine.patch_predictor import PatchPredictor

    patch = CLASSIFY["patch"]
    config = IOPatchPredictorConfig(input_resolutions=[{"units": "baseline", "resolution": 1.0}],
                                    patch_input_shape=(patch, patch), stride_shape=(patch, patch))
    predictor = PatchPredictor(model=_tia_model("classify"), batch_size=CLASSIFY["batch"],
                               num_workers=0, verbose=False)

    def run() -> int:
        with tempfile.TemporaryDirectory() as folder:
            out = predictor.run([Path(slide)], masks=None, ioconfig=config, patch_mode=False,
                                save_dir=Path(folder) / "out", output_type="zarr",
                                auto_get_mask=False, device="cpu")
            path = next(iter(out.values())) if isinstance(out, dict) else out
            return int(zarr.open(str(path), mode="r")["predictions"].shape[0])

    return run


def tiatoolbox_segment(slide: str) -> Callable[[], int]:
    import tifffile
    from tiatoolbox.models.engine.io_config import IOSegmentorConfig
    from tiatoolbox.models.engine.semantic_segmentor import SemanticSegmentor

    patch, step = SEGMENT["patch"], SEGMENT["patch"] - SEGMENT["overlap"]
    config = IOSegmentorConfig(input_resolutions=[{"units": "baseline", "resolution": 1.0}],
                               output_resolutions=[{"units": "baseline", "resolution": 1.0}],
                               patch_input_shape=(patch, patch), patch_output_shape=(patch, patch),
                               stride_shape=(step, step))
    segmentor = SemanticSegmentor(model=_tia_model("segment"), batch_size=SEGMENT["batch"],
                                  num_workers=0, verbose=False)
    with tifffile.TiffFile(slide) as tif:
        shape = tif.pages[0].shape

    def run() -> int:
        with tempfile.TemporaryDirectory() as folder:
            segmentor.run([Path(slide)], masks=None, ioconfig=config, patch_mode=False,
                          save_dir=Path(folder) / "out", output_type="zarr", auto_get_mask=False,
                          device="cpu")
        return _segment_tiles(shape)

    return run


def memory_segment(slide: str, level: str, out: str) -> Callable[[], int]:
    from histomammo.inference import segment_slide
    from histomammo.io import TiffImage

    model = build("segment")

    def run() -> int:
        with TiffImage(slide) as image:
            segment_slide(model, image, patch_size=512, overlap=64, level=int(level),
                          tissue=None, out=out, batch_size=4, progress=False)
            height, width = image.levels[int(level)].shape[:2]
        return _grid_count(height, 512, 448) * _grid_count(width, 512, 448)

    return run


CONTENDERS = {f.__name__: f for f in (histomammo_classify, monai_classify, tiatoolbox_classify,
                                      histomammo_segment, monai_segment, tiatoolbox_segment,
                                      memory_segment)}


def _worker(name: str, args: list[str]) -> None:
    torch.set_num_threads(1)
    MODELS["size"] = os.environ.get("BENCH_MODELS", "tiny")
    LAYOUT["channels_last"] = name.endswith("_nhwc")
    run = CONTENDERS[name.removesuffix("_nhwc")](*args)  # imports, model, input: not timed
    start, cpu = time.perf_counter(), time.process_time()
    tiles = run()
    seconds = time.perf_counter() - start
    print(json.dumps({"name": name, "tiles": tiles, "seconds": seconds, "peak_mb": _peak_mb(),
                      "cpu_s": time.process_time() - cpu}))


# ---------------------------------------------------------------- driver
def _spawn(name: str, args: list[str], python: str = sys.executable) -> dict:
    """One contender in its own process: ``{"name", "tiles", "seconds", "peak_mb"}``."""
    env = {**os.environ, "PYTHONPATH": str(HERE.parents[1]), "BENCH_MODELS": MODELS["size"]}
    done = subprocess.run([python, str(HERE), "worker", name, *args], capture_output=True,
                          text=True, env=env)
    if done.returncode:
        return {"name": name, "error": done.stderr.strip().splitlines()[-1:] or ["failed"]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _report(rows: list[dict], pairs: list[tuple[str, list[str]]]) -> None:
    by_name = {r["name"]: r for r in rows}
    for row in rows:
        if "error" in row:
            print(f"{row['name']:22s} FAILED: {row['error'][0]}")
        else:
            print(f"{row['name']:22s} {row['tiles']:7d} tiles {row['seconds']:8.2f} s "
                  f"{row['tiles'] / row['seconds']:9.1f} tiles/s  peak {row['peak_mb']:7.0f} MB"
                  f"  CPU {row.get('cpu_s', float('nan')):7.2f} s (all threads)")
    for ours, peers in pairs:
        for peer in peers:
            a, b = by_name.get(ours, {}), by_name.get(peer, {})
            if "seconds" in a and "seconds" in b:
                ratio = (a["tiles"] / a["seconds"]) / (b["tiles"] / b["seconds"])
                print(f"{ours} / {peer}: {ratio:.2f}x tiles/s, memory "
                      f"{a['peak_mb']:.0f} vs {b['peak_mb']:.0f} MB")


def speed(args: argparse.Namespace) -> None:
    from histomammo.datasets.synthetic import make_slide

    folder = Path(tempfile.mkdtemp())
    slide = make_slide(folder / "bench.tif", (args.side, args.side), tile=256, levels=3,
                       layout="pages", seed=0).path
    MODELS["size"] = args.models
    layouts = ("", "_nhwc")[: 2 if args.channels_last else 1]
    for repeat in range(args.repeat):
        print(f"== run {repeat + 1}: slide {args.side}x{args.side}, {args.models} models, "
              f"load {os.getloadavg()} (a shared machine)", flush=True)
        rows = []
        for layout in layouts:  # the models as built (NCHW), then channels-last for everyone
            rows += [_spawn(n + layout, [str(slide)]) for n in (
                "histomammo_classify", "monai_classify", "histomammo_segment", "monai_segment")]
            if args.tiatoolbox:
                rows += [_spawn(n + layout, [str(slide)], args.tiatoolbox)
                         for n in ("tiatoolbox_classify", "tiatoolbox_segment")]
        print(f"load after: {os.getloadavg()}")
        _report(rows, [(f"histomammo_{task}{layout}",
                        [f"monai_{task}{layout}", f"tiatoolbox_{task}{layout}"])
                       for layout in layouts for task in ("classify", "segment")])


def memory(args: argparse.Namespace) -> None:
    from histomammo.datasets.synthetic import make_slide

    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for side in (20000, 60000):
        slide = folder / f"slide_{side}.tif"
        if not slide.exists():  # written tile by tile, never in memory
            make_slide(slide, (side, side), tile=512, levels=4, compression="none", seed=side)
        out = folder / f"probs_{side}.zarr"
        if out.exists():
            import shutil

            shutil.rmtree(out)
        row = _spawn("memory_segment", [str(slide), str(args.level), str(out)])
        row["name"] = f"segment_slide {side}^2 level {args.level}"
        rows.append(row)
        print(row, f"load {os.getloadavg()}", flush=True)
    _report(rows, [])
    if all("peak_mb" in r for r in rows):
        print(f"peak RSS difference: {rows[1]['peak_mb'] - rows[0]['peak_mb']:.0f} MB")


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "worker":
        _worker(sys.argv[2], sys.argv[3:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="part", required=True)
    fast = sub.add_parser("speed")
    fast.add_argument("--side", type=int, default=4096)
    fast.add_argument("--tiatoolbox", default=None, help="python of a venv with tiatoolbox")
    fast.add_argument("--repeat", type=int, default=1, help="runs of every contender")
    fast.add_argument("--models", choices=["tiny", "realistic"], default="tiny")
    fast.add_argument("--channels-last", action="store_true", help="also channels-last runs")
    mem = sub.add_parser("memory")
    mem.add_argument("--level", type=int, default=2)
    mem.add_argument("--folder", default=str(Path(tempfile.gettempdir()) / "bench_slides"))
    args = parser.parse_args()
    speed(args) if args.part == "speed" else memory(args)


if __name__ == "__main__":
    main()

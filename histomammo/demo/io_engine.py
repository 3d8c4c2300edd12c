"""Demo stage ``io``: the io layer and the engine, end to end, on synthetic data.

It writes synthetic DICOM mammograms, a tiled TIFF pyramid, a BreCaHAD-sized strip TIFF and
a PatchCamelyon-shaped HDF5 file, reads each back through [`histomammo.io`][histomammo.io], and
trains a
small CNN on the HDF5 patches with [`histomammo.engine.Trainer`][histomammo.engine.Trainer]
(checkpointing as a
long run would); the training curve goes to ``training.png`` (with matplotlib).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from histomammo.engine import Trainer
from histomammo.io import H5Array
from histomammo.plot import save_figure

__all__ = ["run"]

logger = logging.getLogger("histomammo.demo.io")


def _dicom_part(out: Path, rng: np.random.Generator) -> dict[str, Any]:
    from histomammo.datasets.synthetic import synthetic_mammogram, write_dicom
    from histomammo.io import read_dicom

    results = {}
    cases = [
        ("left_cc_mono1_12bit.dcm", "MONOCHROME1", 12, "L", "CC", False),
        ("right_mlo_mono2_14bit.dcm.gz", "MONOCHROME2", 14, "R", "MLO", True),
    ]
    for name, photometric, bits, side, view, gz in cases:
        pixels = synthetic_mammogram((512, 384), rng, laterality=side, bits_stored=bits)
        if photometric == "MONOCHROME1":  # stored inverted, as CR/DR plates often are
            pixels = (2**bits - 1 - pixels).astype(np.uint16)
        path = write_dicom(
            out / name, pixels, photometric=photometric, bits_stored=bits,
            laterality=side, view=view, gzip=gz,
        )
        image = read_dicom(path)
        breast = image.pixels > 0.5
        results[name] = {
            "shape": list(image.pixels.shape),
            "dtype": str(image.pixels.dtype),
            "laterality": image.laterality,
            "view": image.view,
            "photometric": image.photometric,
            "breast_fraction": round(float(breast.mean()), 3),
        }
        logger.info("DICOM %s: %s", name, results[name])
    return results


def _tiff_part(out: Path, rng: np.random.Generator) -> dict[str, Any]:
    import tifffile

    from histomammo.io import TiffImage

    strip = out / "brecahad_like.tif"
    tifffile.imwrite(strip, rng.integers(0, 256, (1024, 1360, 3), dtype=np.uint8),
                     photometric="rgb", rowsperstrip=64)
    pyramid = out / "pyramid.tif"
    base = rng.integers(0, 256, (4096, 4096, 3), dtype=np.uint8)
    with tifffile.TiffWriter(pyramid) as tif:
        tif.write(base, tile=(256, 256), subifds=2, photometric="rgb", compression="zlib")
        for factor in (2, 4):
            tif.write(base[::factor, ::factor], tile=(256, 256), subfiletype=1,
                      photometric="rgb", compression="zlib")
    results = {}
    for path in (strip, pyramid):
        with TiffImage(path) as image:
            region = image.read_region(100, 200, 512, 680)
            results[path.name] = {
                "shape": list(image.shape),
                "levels": [[level.index, list(level.shape), level.downsample]
                           for level in image.levels],
                "region_shape": list(region.shape),
            }
        logger.info("TIFF %s: %s", path.name, results[path.name])
    return results


def _patches(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """PCam-shaped uint8 patches; class 1 carries a dark, dense blob in the centre."""
    labels = rng.integers(0, 2, n).astype(np.uint8)
    x = rng.normal(200, 20, (n, 96, 96, 3))
    yy, xx = np.mgrid[:96, :96]
    blob = ((yy - 48) ** 2 + (xx - 48) ** 2 < 16**2)[None, :, :, None]
    x = np.where(blob & labels[:, None, None, None].astype(bool), x - 90, x)
    return np.clip(x, 0, 255).astype(np.uint8), labels


class _H5Patches(Dataset[Any]):
    """(CHW float image, centred and scaled, label) pairs read lazily from PCam-layout HDF5 files."""

    def __init__(self, x_path: Path, y_path: Path) -> None:
        self.x = H5Array(x_path, "x")
        self.y = H5Array(y_path, "y")

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        image = torch.from_numpy(self.x[i]).permute(2, 0, 1).float() / 255
        return (image - 0.5) / 0.25, int(self.y[i].reshape(-1)[0])


def _hdf5_and_engine_part(out: Path, rng: np.random.Generator, seed: int) -> dict[str, Any]:
    from histomammo.datasets._pcam_layout import write_h5

    paths = {}
    for split, n in (("train", 512), ("valid", 256)):
        x, y = _patches(rng, n)
        for kind, data in (("x", x), ("y", y.reshape(-1, 1, 1, 1))):
            path = out / f"camelyonpatch_level_2_split_{split}_{kind}.h5"
            paths[split, kind] = write_h5(path, data)  # atomic, like every file written

    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 5, stride=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(8, 16, 3), torch.nn.ReLU(), torch.nn.AdaptiveMaxPool2d(1),
        torch.nn.Flatten(), torch.nn.Linear(16, 2),
    )

    def accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> float:
        return float((outputs.argmax(1) == targets).float().mean())

    trainer = Trainer(
        model, torch.optim.Adam(model.parameters(), 3e-3), torch.nn.CrossEntropyLoss(),
        seed=seed, checkpoint_dir=out / "checkpoints", checkpoint_every=10, progress=False,
    )
    train = DataLoader(_H5Patches(paths["train", "x"], paths["train", "y"]), batch_size=32,
                       shuffle=True, num_workers=2)
    valid = DataLoader(_H5Patches(paths["valid", "x"], paths["valid", "y"]), batch_size=64)
    before = trainer.evaluate(valid, metrics={"accuracy": accuracy})
    history = trainer.fit(train, epochs=4, val_loader=valid, metrics={"accuracy": accuracy},
                          resume=False)
    logger.info("engine: accuracy %.3f before training, %.3f after %d epochs",
                before["accuracy"], history[-1]["val_accuracy"], len(history))
    return {
        "hdf5_files": sorted(p.name for p in paths.values()),
        "val_accuracy_before": round(before["accuracy"], 4),
        "history": history,
    }


def _plot_history(history: list[dict[str, Any]], path: Path) -> bool:
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        logger.info("matplotlib not installed: no training plot (pip install 'histomammo[plot]')")
        return False
    epochs = [row["epoch"] for row in history]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(epochs, [row["loss"] for row in history], "o-", label="train loss")
    ax.plot(epochs, [row["val_loss"] for row in history], "s-", label="validation loss")
    ax.plot(epochs, [row["val_accuracy"] for row in history], "^-", label="validation accuracy")
    ax.set_xlabel("epoch")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return True


def run(out: Path, seed: int) -> dict[str, Any]:
    """The io and engine stage: DICOM, TIFF and HDF5 round trips and a small CNN trained.

    Parameters
    ----------
    out : Path
        The stage's own output folder.
    seed : int
        Seed of every random draw.

    Returns
    -------
    dict
        ``{"dicom": ..., "tiff": ..., "hdf5_engine": ...}``, written into the demo summary.
    """
    rng = np.random.default_rng(seed)
    results: dict[str, Any] = {
        "dicom": _dicom_part(out, rng),
        "tiff": _tiff_part(out, rng),
        "hdf5_engine": _hdf5_and_engine_part(out, rng, seed),
    }
    results["hdf5_engine"]["plot"] = _plot_history(
        results["hdf5_engine"]["history"], out / "training.png"
    )
    return results

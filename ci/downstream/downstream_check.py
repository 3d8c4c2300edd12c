"""A user's script: every histomammo subpackage on tiny synthetic data, each result asserted.

Installed as the console script ``histomammo-downstream-check`` and run by ``make dist-check``
from a folder outside the repository, in a venv that holds only the wheel, its dependencies
and this project. Usage: ``histomammo-downstream-check [REPOSITORY]``; with ``REPOSITORY``
it also checks that histomammo was not imported from there.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")  # no display in CI; set before pyplot loads

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

import histomammo  # noqa: E402
from histomammo import (  # noqa: E402
    datasets,
    engine,
    errors,
    inference,
    io,
    metrics,
    models,
    plot,
    postprocess,
    systems,
    transforms,
)
from histomammo.datasets import synthetic  # noqa: E402
from histomammo.transforms import stain  # noqa: E402


def to_float(image: torch.Tensor) -> torch.Tensor:
    return image.float() / 255


def check_installed(repository: Path | None) -> None:
    """histomammo comes from this venv's site-packages, as the wheel installed it."""
    where = Path(histomammo.__file__).resolve()
    assert where.is_relative_to(Path(sys.prefix).resolve()), (where, sys.prefix)
    assert sys.prefix != sys.base_prefix, "not running in a venv"
    if repository is not None:
        assert not where.is_relative_to(repository.resolve()), f"{where} is in the repository"
        assert not Path.cwd().resolve().is_relative_to(repository.resolve()), Path.cwd()
    assert histomammo.__version__ == metadata.version("histomammo"), histomammo.__version__
    files = metadata.files("histomammo") or []
    assert any(str(f).endswith("py.typed") for f in files), "py.typed not installed"
    assert not any(str(f).startswith("tests/") for f in files), "tests installed"
    histomammo.show_versions()


def check_mammography(folder: Path) -> None:
    """datasets.synthetic -> io.read_dicom -> transforms.mammo; errors on a bad file."""
    rng = np.random.default_rng(0)
    pixels = synthetic.synthetic_mammogram((256, 192), rng, laterality="R")
    path = synthetic.write_dicom(folder / "scan.dcm", pixels, photometric="MONOCHROME1",
                                 laterality="R")
    image = io.read_dicom(path)
    assert image.pixels.shape == (256, 192) and image.pixels.dtype == np.float32
    assert 0.0 <= image.pixels.min() and image.pixels.max() <= 1.0 and image.laterality == "R"
    raw = io.read_dicom(path, raw=True)
    assert raw.pixels.dtype == np.uint16 and np.array_equal(raw.pixels, pixels)
    crop = transforms.mammo.preprocess_crop(raw.pixels, out_size=(64, 64))
    assert crop.shape == (64, 64), crop.shape
    bad = folder / "not_a_dicom.dcm"
    bad.write_bytes(b"not a DICOM file")
    try:
        io.read_dicom(bad)
    except errors.DataFormatError as error:
        assert isinstance(error, ValueError) and "not_a_dicom.dcm" in str(error)
    else:
        raise AssertionError("read_dicom accepted a file that is not DICOM")


def check_pcam_training(folder: Path) -> torch.nn.Module:
    """datasets.PCam + io.H5Array -> models -> systems' recipe -> engine.Trainer -> metrics."""
    root = synthetic.make_pcam(folder / "pcam", {"train": 64, "test": 32},
                               splits=["train", "test"], progress=False)
    patches = io.H5Array(root / "camelyonpatch_level_2_split_train_x.h5", "x")
    assert patches.shape == (64, 96, 96, 3) and patches.dtype == np.uint8
    train = datasets.PCam(root, "train", transform=to_float)
    test = datasets.PCam(root, "test", transform=to_float)
    image, label = train[0]
    assert image.shape == (3, 96, 96) and image.dtype == torch.float32 and label in (0, 1)
    model = models.plain_cnn(num_classes=2, channels=(8, 16, 16), hidden=16)
    recipe = systems.pcam.recipe("all_cnn", model, epochs=2)
    assert isinstance(recipe, engine.Recipe) and recipe.epochs == 2
    trainer = engine.Trainer.from_recipe(model, recipe, seed=0, progress=False,
                                         checkpoint_dir=folder / "checkpoints")
    history = trainer.fit(DataLoader(train, batch_size=16, shuffle=True), recipe.epochs)
    assert [row["epoch"] for row in history] == [0, 1]
    assert all(math.isfinite(row["loss"]) for row in history)
    assert list((folder / "checkpoints").glob("*.pt")), "no checkpoint written"
    result = trainer.evaluate(DataLoader(test, batch_size=32), metrics={"auc": metrics.roc_auc})
    assert 0.0 <= result["auc"] <= 1.0 and math.isfinite(result["loss"]), result
    return model


def check_metrics_and_plot(folder: Path) -> None:
    """metrics on known answers; plot.plot_roc -> a Figure, saved atomically."""
    scores, targets = np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])
    assert metrics.roc_auc(scores, targets) == 0.75
    assert metrics.accuracy(scores, targets, threshold=0.5) == 0.75
    curve = metrics.roc_curve(scores, targets)
    figure = plot.plot_roc({"toy": curve})
    assert type(figure).__name__ == "Figure" and figure.axes
    saved = plot.save_figure(figure, folder / "roc.png")
    assert saved.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def check_histology(folder: Path, model: torch.nn.Module) -> None:
    """transforms.stain, postprocess and inference.classify_slide over a synthetic slide."""
    slide = synthetic.make_slide(folder / "slide.tif", (1024, 1024), tile=256, levels=2, seed=0)
    tiff = io.TiffImage(slide.path)
    assert tiff.shape[:2] == (1024, 1024), tiff.shape
    heatmap = inference.classify_slide(model, tiff, patch_size=96, level=1, transform=to_float,
                                       progress=False)
    probabilities = heatmap.probabilities
    assert probabilities.ndim == 3 and probabilities.shape[2] == 2
    scored = probabilities[~np.isnan(probabilities[..., 0])]
    assert len(scored) > 0 and np.allclose(scored.sum(-1), 1.0, atol=1e-5)

    region = tiff.read_region(256, 256, 256, 256)  # (H, W, 3) uint8 tissue
    normalizer = stain.StainNormalizer("macenko").fit(region)
    normalized = normalizer.transform(region[::-1].copy())
    assert normalized.shape == region.shape and normalized.dtype == np.uint8

    yy, xx = np.mgrid[:64, :64]
    blobs = np.maximum(np.exp(-((yy - 16) ** 2 + (xx - 16) ** 2) / 40.0),
                       np.exp(-((yy - 46) ** 2 + (xx - 46) ** 2) / 40.0)).astype(np.float32)
    instances = postprocess.probabilities_to_instances(blobs, 0.5)
    assert sorted(np.unique(instances).tolist()) == [0, 1, 2], np.unique(instances)


def main() -> None:
    repository = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    start = time.perf_counter()
    check_installed(repository)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        check_mammography(folder)
        model = check_pcam_training(folder)
        check_metrics_and_plot(folder)
        check_histology(folder, model)
    print(f"downstream check passed: histomammo {histomammo.__version__} from "
          f"{Path(histomammo.__file__).parent}, every subpackage used "
          f"({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()

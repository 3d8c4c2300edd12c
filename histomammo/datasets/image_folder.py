"""Export a patch dataset as PNG files in torchvision's ImageFolder layout.

The seed project exported PCam to ``root/{train,valid,test}/{normal,tumor}/`` so that
``torchvision.datasets.ImageFolder`` assigns ``normal`` 0 and ``tumor`` 1 (section 3.3.4),
because its HDF5 reader was slow. [`PCam`][histomammo.datasets.pcam.PCam] needs no export to be
fast; ``export_image_folder`` is there for tools that want image files.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from histomammo._atomic import atomic_write
from histomammo.datasets._contract import SizedDataset

__all__ = ["CLASS_NAMES", "export_image_folder"]

logger = logging.getLogger("histomammo.datasets.image_folder")

CLASS_NAMES = ("normal", "tumor")  # label 0, label 1: ImageFolder sorts them in this order


def _to_hwc_uint8(image: Any, index: int) -> np.ndarray:
    """Tensors are CHW (torch's convention), arrays HWC (numpy's); PNG wants HWC."""
    array = image.numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    if isinstance(image, torch.Tensor) and array.ndim == 3:
        array = array.transpose(1, 2, 0)
    if array.dtype != np.uint8 or array.ndim not in (2, 3):
        raise TypeError(
            f"sample {index}: export_image_folder writes uint8 images (CHW tensors or HWC "
            f"arrays); got {array.dtype} of shape {array.shape} - export before transforms"
        )
    return array.squeeze(-1) if array.ndim == 3 and array.shape[-1] == 1 else array


def _write_png(path: Path, image: np.ndarray) -> None:
    with atomic_write(path, "wb") as handle:
        Image.fromarray(image).save(handle, format="PNG")


def _fetch(dataset: SizedDataset, indices: list[int]) -> list[Any]:
    getitems = getattr(dataset, "__getitems__", None)
    return getitems(indices) if getitems else [dataset[i] for i in indices]


def export_image_folder(
    dataset: SizedDataset,
    out_dir: str | os.PathLike[str],
    *,
    split: str | None = None,
    workers: int = 4,
    batch_size: int = 256,
    progress: bool = True,
) -> Path:
    """Write every sample of ``dataset`` to ``out_dir/{split}/{normal,tumor}/{index}.png``.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        Samples ``(image, label, ...)`` with uint8 images (``(C, H, W)`` tensors or
        ``(H, W, C)`` arrays) and labels 0 (normal) or 1 (tumour), e.g.
        [`PCam`][histomammo.datasets.pcam.PCam] without a transform.
    out_dir : str or os.PathLike
        Root of the image folders.
    split : str, optional
        Sub-folder name; by default ``dataset.split`` (``"train"``, ``"val"``, ``"test"``
        for [`PCam`][histomammo.datasets.pcam.PCam]; pass ``split="valid"`` for the seed
        project's folder names).
    workers : int
        Threads encoding PNGs in parallel.
    batch_size : int
        Samples fetched together (through ``__getitems__`` where the dataset has it).
    progress : bool
        Show a progress bar.

    Returns
    -------
    pathlib.Path
        ``out_dir/split``, ready for ``torchvision.datasets.ImageFolder``, whose
        ``class_to_idx`` is then ``{"normal": 0, "tumor": 1}``.

    Notes
    -----
    Resumable: files are written atomically (a temporary name, then a rename), so a file
    under its final name is complete, and files already there are skipped. Names are the
    sample index, zero-padded, so ``ImageFolder`` lists them in dataset order per class.

    Examples
    --------
    >>> import tempfile
    >>> from torchvision.datasets import ImageFolder
    >>> from histomammo.datasets import PCam, export_image_folder
    >>> from histomammo.datasets.synthetic import make_pcam
    >>> root = make_pcam(tempfile.mkdtemp(), 4, splits=["test"], progress=False)
    >>> folder = export_image_folder(PCam(root, "test"), root / "png", progress=False)
    >>> ImageFolder(folder).class_to_idx
    {'normal': 0, 'tumor': 1}
    """
    split = split if split is not None else getattr(dataset, "split", None)
    if not split:
        raise ValueError("pass split=...: the dataset has no .split attribute to name its folder")
    folder = Path(out_dir) / split
    for name in CLASS_NAMES:
        (folder / name).mkdir(parents=True, exist_ok=True)
    n = len(dataset)
    width = max(6, len(str(n - 1)))
    existing = {p.name for name in CLASS_NAMES for p in (folder / name).glob("*.png")}
    todo = [i for i in range(n) if f"{i:0{width}d}.png" not in existing]
    logger.info("exporting %d of %d images to %s (%d already there)", len(todo), n, folder,
                n - len(todo))
    with ThreadPoolExecutor(max_workers=workers) as pool, \
            tqdm(total=len(todo), desc=f"export {split}", disable=not progress) as bar:
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            jobs = []
            for i, sample in zip(chunk, _fetch(dataset, chunk), strict=True):
                label = int(sample[1])
                if label not in (0, 1):
                    raise ValueError(f"sample {i}: label {label}; expected 0 (normal) or 1 (tumor)")
                path = folder / CLASS_NAMES[label] / f"{i:0{width}d}.png"
                jobs.append(pool.submit(_write_png, path, _to_hwc_uint8(sample[0], i)))
            for job in jobs:
                job.result()
                bar.update()
    return folder

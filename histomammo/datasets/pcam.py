"""PatchCamelyon (PCam): 96x96 H&E patches of lymph-node sections labelled for metastasis.

:class:`PCam` reads the published HDF5 files through :class:`histomammo.io.H5Array`: each
file is opened once per process and kept open (the seed project reopened it for every
item, section 3.2.1, because h5py handles cannot cross processes), so it is fast and safe
in DataLoader workers under ``fork``, ``spawn`` and ``forkserver``, and a DataLoader
fetches a whole batch in one call through ``__getitems__``. No PNG export is needed for
speed (the seed's section 3.3.3.2), though :func:`~histomammo.datasets.export_image_folder`
writes one for tools that want it. :func:`decompress` unpacks the ``.h5.gz`` files as
distributed, once.

References
----------
Veeling, Linmans, Winkens, Cohen, Welling. "Rotation Equivariant CNNs for Digital
Pathology", MICCAI 2018. https://github.com/basveeling/pcam
"""

from __future__ import annotations

import gzip
import logging
import os
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torchvision import tv_tensors
from tqdm.auto import tqdm

from histomammo._atomic import atomic_write
from histomammo.datasets._pcam_layout import (
    PATCH_SHAPE,
    REAL_SIZES,
    MetaRow,
    data_name,
    meta_name,
    read_meta,
)
from histomammo.errors import DataFormatError, MissingFileError
from histomammo.io import H5Array

__all__ = ["PCam", "decompress"]

logger = logging.getLogger("histomammo.datasets.pcam")

_SPLIT_ALIASES = {"train": "train", "valid": "valid", "val": "valid", "test": "test"}


def _split_name(split: str) -> str:
    try:
        return _SPLIT_ALIASES[split]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown PCam split {split!r}; expected 'train', 'valid' (or 'val') or 'test'"
        ) from None


def _folder(root: Path, split: str) -> Path:
    """``root`` or torchvision's ``root/pcam``: the first that holds the split's x file (or its .gz)."""
    for folder in (root, root / "pcam"):
        name = folder / data_name(split, "x")
        if name.exists() or name.with_name(name.name + ".gz").exists():
            return folder
    return root


def _require_h5(path: Path) -> Path:
    """``path``, or MissingFileError saying whether a gzipped copy waits to be unpacked."""
    if path.exists():
        return path
    packed = path.with_name(path.name + ".gz")
    if packed.exists():
        raise MissingFileError(
            f"{path} is missing but {packed.name} is there: PCam is distributed gzipped and "
            f"HDF5 cannot be read through gzip; decompress it once with "
            f"histomammo.datasets.pcam.decompress({str(path.parent)!r})"
        )
    raise MissingFileError(
        f"{path}: no such file; expected PCam's camelyonpatch_level_2_split_*_{{x,y}}.h5 in "
        f"{path.parent} or in its pcam/ sub-folder (torchvision's layout)"
    )


def _read_labels(labels: H5Array, images: H5Array) -> np.ndarray:
    """All labels (N bytes) as int64, after checking them against the image file."""
    if labels.shape[0] != images.shape[0]:
        raise DataFormatError(
            f"{labels.path} holds {labels.shape[0]} labels but {images.path} holds "
            f"{images.shape[0]} images; expected one label per image"
        )
    if any(size != 1 for size in labels.shape[1:]) or labels.dtype.kind not in "iub":
        raise DataFormatError(
            f"{labels.path}: 'y' is {labels.shape} {labels.dtype}; expected (N, 1, 1, 1) uint8"
        )
    values = np.asarray(labels[:]).reshape(-1).astype(np.int64)
    bad = (values != 0) & (values != 1)
    if bad.any():
        raise DataFormatError(
            f"{labels.path}: label {values[bad][0]} at row {int(np.flatnonzero(bad)[0])}; "
            f"expected 0 (normal) or 1 (tumour)"
        )
    return values


def _check_images(images: H5Array) -> None:
    if images.ndim != 4 or images.shape[1:] != PATCH_SHAPE or images.dtype != np.uint8:
        raise DataFormatError(
            f"{images.path}: 'x' is {images.shape} {images.dtype}; expected (N, 96, 96, 3) "
            f"uint8 RGB patches"
        )


def _warn_if_not_real_size(images: H5Array, split: str) -> None:
    """Warn when a set as large as the real one (half of it or more) has other sizes."""
    real, found = REAL_SIZES[split], images.shape[0]
    if found != real and found >= real // 2:
        warnings.warn(
            f"{images.path} holds {found} patches but the published PCam {split} split has "
            f"{real}: an incomplete or altered copy?",
            UserWarning,
            stacklevel=3,
        )


class PCam(torch.utils.data.Dataset):
    """The PatchCamelyon split ``split`` under ``root``, read lazily from its HDF5 files.

    Parameters
    ----------
    root : str or os.PathLike
        Folder holding ``camelyonpatch_level_2_split_{split}_{x,y}.h5`` (and optionally
        ``camelyonpatch_level_2_split_{split}_meta.csv``), or holding them in ``pcam/``
        as ``torchvision.datasets.PCAM`` lays them out.
    split : {"train", "valid", "val", "test"}
        ``"val"`` is torchvision's name for ``"valid"``.
    transform : callable, optional
        Applied to the image (a ``tv_tensors.Image``, uint8, ``(3, 96, 96)``).
    target_transform : callable, optional
        Applied to the label (an ``int``).
    with_meta : bool
        Add the meta row to each sample, so a prediction can be traced to its slide;
        needs the meta CSV.

    Attributes
    ----------
    images : histomammo.io.H5Array
        The patches, ``(N, 96, 96, 3)`` uint8 RGB, on disk.
    targets : numpy.ndarray
        All labels, ``(N,)`` int64, 0 = normal, 1 = tumour (the centre 32x32 region
        holds tumour), read once: ``N`` bytes.
    meta : list of MetaRow or None
        The meta rows, when ``with_meta`` (``coord_y``, ``coord_x`` at level 0,
        ``tumor_patch``, ``center_tumor_patch``, ``wsi``).

    Raises
    ------
    MissingFileError
        A file is missing; when only its ``.h5.gz`` is there the message says to run
        :func:`decompress`.
    DataFormatError
        Truncated or non-HDF5 files; ``x`` not ``(N, 96, 96, 3)`` uint8; ``y`` of another
        length than ``x``, another shape than ``(N, 1, 1, 1)`` or labels other than 0/1;
        a meta CSV with other columns or rows.

    Warns
    -----
    UserWarning
        A split at least half as large as the published one (262,144 / 32,768 / 32,768
        patches) but not of its size.

    Notes
    -----
    Samples are ``(image, label)``, or ``(image, label, meta)`` with ``with_meta`` where
    ``meta`` is a dict of the row's fields plus ``"index"``, so the default collate makes
    lists and tensors of them.

    Examples
    --------
    >>> import tempfile
    >>> from histomammo.datasets import PCam
    >>> from histomammo.datasets.synthetic import make_pcam
    >>> root = make_pcam(tempfile.mkdtemp(), n_per_split=4, splits=["test"], progress=False)
    >>> data = PCam(root, "test", with_meta=True)
    >>> image, label, meta = data[0]
    >>> tuple(image.shape), image.dtype, label in (0, 1), meta["wsi"][:15]
    ((3, 96, 96), torch.uint8, True, 'camelyon16_test')
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str = "train",
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[int], Any] | None = None,
        with_meta: bool = False,
    ) -> None:
        self.root = Path(root)
        self.split = _split_name(split)
        self.transform = transform
        self.target_transform = target_transform
        folder = _folder(self.root, self.split)
        self.images = H5Array(_require_h5(folder / data_name(self.split, "x")), "x")
        _check_images(self.images)
        labels = H5Array(_require_h5(folder / data_name(self.split, "y")), "y")
        self.targets = _read_labels(labels, self.images)
        _warn_if_not_real_size(self.images, self.split)
        self.meta: list[MetaRow] | None = None
        if with_meta:
            self.meta = self._read_meta(folder / meta_name(self.split))

    def _read_meta(self, path: Path) -> list[MetaRow]:
        if not path.exists():
            raise MissingFileError(f"{path}: no such file; with_meta=True needs PCam's meta CSV")
        rows = read_meta(path)
        if len(rows) != len(self):
            raise DataFormatError(
                f"{path} has {len(rows)} rows but {self.images.path} holds {len(self)} "
                f"patches; expected one row per patch"
            )
        return rows

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __repr__(self) -> str:
        return f"PCam(root={str(self.root)!r}, split={self.split!r}, n={len(self)})"

    def _sample(self, index: int, pixels: np.ndarray) -> tuple[Any, ...]:
        image: Any = tv_tensors.Image(torch.from_numpy(pixels).permute(2, 0, 1))
        label: Any = int(self.targets[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            label = self.target_transform(label)
        if self.meta is None:
            return image, label
        row = self.meta[index]
        return image, label, {"index": index, **row.__dict__}

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        index = self._check_index(index)
        return self._sample(index, self.images[index])

    def __getitems__(self, indices: list[int]) -> list[tuple[Any, ...]]:
        """Samples ``indices``, their images read together (a DataLoader's batch fetch)."""
        rows = [self._check_index(i) for i in indices]
        pixels = self.images[np.asarray(rows, dtype=np.int64)]
        return [self._sample(i, p) for i, p in zip(rows, pixels, strict=True)]

    def _check_index(self, index: int) -> int:
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
            raise TypeError(f"PCam indices are integers, got {type(index).__name__}")
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range for PCam {self.split} of {n}")
        return int(index) % n


def decompress(
    root: str | os.PathLike[str], *, remove: bool = False, progress: bool = True
) -> list[Path]:
    """Unpack every ``camelyonpatch_*.h5.gz`` under ``root`` (and ``root/pcam``) beside itself.

    Each ``.h5`` is written atomically (a temporary name, then a rename), so an
    interrupted run leaves no half file; files already unpacked are skipped.

    Parameters
    ----------
    root : str or os.PathLike
        Folder of the downloaded files.
    remove : bool
        Delete each ``.gz`` once its ``.h5`` is written.
    progress : bool
        Show a progress bar over the compressed bytes.

    Returns
    -------
    list of pathlib.Path
        The ``.h5`` files written (those skipped are not listed).

    Raises
    ------
    DataFormatError
        A ``.gz`` file is truncated or not gzip; nothing is written for it.

    Examples
    --------
    >>> import gzip, tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> with gzip.open(root / "camelyonpatch_level_2_split_test_y.h5.gz", "wb") as f:
    ...     _ = f.write(b"not really HDF5")
    >>> [p.name for p in decompress(root, progress=False)]
    ['camelyonpatch_level_2_split_test_y.h5']
    """
    root = Path(root)
    packed = sorted(
        [*root.glob("camelyonpatch_*.h5.gz"), *root.glob("pcam/camelyonpatch_*.h5.gz")]
    )
    todo = [p for p in packed if not p.with_suffix("").exists()]
    written = []
    with tqdm(total=sum(p.stat().st_size for p in todo), unit="B", unit_scale=True,
              desc="decompress PCam", disable=not progress) as bar:
        for path in todo:
            written.append(_gunzip(path, bar))
            if remove:
                path.unlink()
    return written


def _gunzip(path: Path, bar: tqdm) -> Path:
    target = path.with_suffix("")
    try:
        with open(path, "rb") as raw, gzip.GzipFile(fileobj=raw) as source, \
                atomic_write(target) as out:
            last = 0
            while chunk := source.read(1 << 22):
                out.write(chunk)
                bar.update(raw.tell() - last)
                last = raw.tell()
    except (OSError, EOFError, zlib.error) as err:
        raise DataFormatError(
            f"{path}: cannot be decompressed ({err}); expected a complete gzip file"
        ) from err
    logger.info("decompressed %s", target)
    return target


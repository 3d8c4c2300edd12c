"""PatchCamelyon (PCam): 96x96 H&E patches of lymph-node sections labelled for metastasis.

[`PCam`][histomammo.datasets.pcam.PCam] reads the published HDF5 files through
[`H5Array`][histomammo.io.hdf5.H5Array]: each
file is opened once per process and kept open (the seed project reopened it for every
item, section 3.2.1, because h5py handles cannot cross processes), so it is fast and safe
in DataLoader workers under ``fork``, ``spawn`` and ``forkserver``, and a DataLoader
fetches a whole batch in one call through ``__getitems__``. No PNG export is needed for
speed (the seed's section 3.3.3.2), though
[`export_image_folder`][histomammo.datasets.image_folder.export_image_folder] writes one for
tools that want it. [`decompress`][histomammo.datasets.pcam.decompress] unpacks the
``.h5.gz`` files as distributed, once.

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
from typing import Any, Literal

import numpy as np
import torch
from torchvision import tv_tensors
from tqdm.auto import tqdm

from histomammo._atomic import atomic_write
from histomammo.datasets._contract import ContractDataset, resolve_split
from histomammo.datasets._pcam_layout import (
    META_COLUMNS,
    PATCH_SHAPE,
    REAL_SIZES,
    MetaTable,
    data_name,
    meta_name,
    read_meta,
)
from histomammo.errors import DataFormatError, MissingFileError
from histomammo.io import H5Array

__all__ = ["PCam", "decompress"]

logger = logging.getLogger("histomammo.datasets.pcam")

SPLITS: tuple[Literal["train", "val", "test"], ...] = ("train", "val", "test")
_RELEASE_SPLIT = {"train": "train", "val": "valid", "test": "test"}  # the file names' word


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
    """All labels (N bytes) as int64, after checking the file's shape against the images."""
    if labels.shape[0] != images.shape[0]:
        raise DataFormatError(
            f"{labels.path} holds {labels.shape[0]} labels but {images.path} holds "
            f"{images.shape[0]} images; expected one label per image"
        )
    if any(size != 1 for size in labels.shape[1:]) or labels.dtype.kind not in "iub":
        raise DataFormatError(
            f"{labels.path}: 'y' is {labels.shape} {labels.dtype}; expected (N, 1, 1, 1) uint8"
        )
    return np.asarray(labels[:]).reshape(-1).astype(np.int64)


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


class PCam(ContractDataset):
    """The PatchCamelyon split ``split`` under ``root``, read lazily from its HDF5 files.

    Parameters
    ----------
    root : str or os.PathLike
        Folder holding ``camelyonpatch_level_2_split_{train,valid,test}_{x,y}.h5`` (and
        optionally ``..._meta.csv``), or holding them in ``pcam/`` as
        ``torchvision.datasets.PCAM`` lays them out.
    split : {"train", "val", "test"}
        ``"valid"`` (the release's file name) is an alias of ``"val"``.
    transforms : callable, optional
        ``transforms(image, label) -> (image, label)``.
    transform : callable, optional
        Applied to the image (a ``tv_tensors.Image``, uint8, ``(3, 96, 96)``).
    target_transform : callable, optional
        Applied to the label (an ``int``).
    strict : bool
        Raise on the first bad label or meta row instead of skipping or flagging it.
    meta : bool
        Read the split's meta CSV when it is there (default), so that
        [`sample_info`][histomammo.datasets.pcam.PCam.sample_info] names each patch's slide
        and position; False skips it (faster construction, slide fields None).

    Attributes
    ----------
    images : histomammo.io.H5Array
        The patches of the file, ``(N, 96, 96, 3)`` uint8 RGB, on disk.
    targets : numpy.ndarray
        The dataset's labels, ``(len(self),)`` int64, 0 = normal, 1 = tumour (the centre
        32x32 region holds tumour), read once: ``N`` bytes.
    problems : list of Problem
        What was skipped or flagged.

    Raises
    ------
    MissingFileError
        A file is missing; when only its ``.h5.gz`` is there the message says to run
        [`decompress`][histomammo.datasets.pcam.decompress].
    DataFormatError
        Truncated or non-HDF5 files; ``x`` not ``(N, 96, 96, 3)`` uint8; ``y`` of another
        length than ``x`` or another shape than ``(N, 1, 1, 1)``; a meta CSV with other
        columns or another number of rows than patches.

    Warns
    -----
    UserWarning
        A split at least half as large as the published one (262,144 / 32,768 / 32,768
        patches) but not of its size.

    Notes
    -----
    Samples are ``(image, label)``: ``image`` a ``tv_tensors.Image`` uint8 ``(3, 96, 96)``
    RGB as stored, ``label`` an ``int``. Row-level problems are logged warnings listed in
    ``problems`` (errors with ``strict=True``): a label other than 0 or 1 (the patch is
    skipped, so indices then skip that row: ``sample_info(i)["index"]`` is the row in the
    files); a meta row that cannot be read (its slide fields are None) or whose
    ``center_tumor_patch`` disagrees with the label (kept; the label file wins).

    Examples
    --------
    >>> import tempfile
    >>> from histomammo.datasets import PCam
    >>> from histomammo.datasets.synthetic import make_pcam
    >>> root = make_pcam(tempfile.mkdtemp(), n_per_split=4, splits=["valid"], progress=False)
    >>> data = PCam(root, "valid")
    >>> image, label = data[-1]
    >>> data.split, tuple(image.shape), image.dtype, label in (0, 1)
    ('val', (3, 96, 96), torch.uint8, True)
    >>> info = data.sample_info(-1)
    >>> info["index"], info["slide"][:16], info["center_tumor_patch"] == bool(label)
    (3, 'camelyon16_train', True)
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str = "train",
        *,
        transforms: Callable[[Any, Any], Any] | None = None,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[int], Any] | None = None,
        strict: bool = False,
        meta: bool = True,
    ) -> None:
        super().__init__(root, transforms=transforms, transform=transform,
                         target_transform=target_transform, strict=strict)
        self.split = resolve_split(split, SPLITS, dataset="PCam")
        release = _RELEASE_SPLIT[self.split]
        folder = _folder(self.root, release)
        self.images = H5Array(_require_h5(folder / data_name(release, "x")), "x")
        _check_images(self.images)
        labels = H5Array(_require_h5(folder / data_name(release, "y")), "y")
        values = _read_labels(labels, self.images)
        self._labels_path = labels.path
        self._rows = self._good_rows(values)
        self.targets = values if self._rows is None else values[self._rows]
        _warn_if_not_real_size(self.images, release)
        self._meta: MetaTable | None = None
        if meta and (folder / meta_name(release)).exists():
            self._meta = self._read_meta(folder / meta_name(release), values)

    def _good_rows(self, values: np.ndarray) -> np.ndarray | None:
        """Rows whose label is 0 or 1 (None: all of them); each other row is a problem."""
        bad = np.flatnonzero((values != 0) & (values != 1))
        for row in bad:
            self.report_problem(self._labels_path, f"y[{row}]", f"label {values[row]}; expected "
                                "0 (normal) or 1 (tumour); patch skipped")
        return np.flatnonzero((values == 0) | (values == 1)) if len(bad) else None

    def _read_meta(self, path: Path, values: np.ndarray) -> MetaTable:
        table = MetaTable.from_rows(read_meta(path, on_problem=self.report_problem))
        if len(table) != len(values):
            raise DataFormatError(
                f"{path} has {len(table)} rows but {self.images.path} holds {len(values)} "
                f"patches; expected one row per patch"
            )
        centre = table.flags[:, 1].astype(np.int64)
        for row in np.flatnonzero((centre >= 0) & (centre != values)):
            self.report_problem(path, int(row) + 2, f"center_tumor_patch is "
                                f"{bool(centre[row])} but {self._labels_path.name} gives label "
                                f"{values[row]} to patch {row}; label kept")
        return table

    def __len__(self) -> int:
        return int(self.images.shape[0]) if self._rows is None else len(self._rows)

    def _row(self, index: int) -> int:
        return index if self._rows is None else int(self._rows[index])

    def sample_info(self, index: int) -> dict[str, Any]:
        """Where patch ``index`` came from.

        Returns
        -------
        dict
            ``file`` (the ``x`` HDF5 file), ``labels_file``, ``split``, ``index`` (the row in
            the files), ``label``, and from the meta CSV (None without it): ``slide`` (the
            ``wsi`` name), ``patient`` (the slide: CAMELYON16 has one slide per patient),
            ``coord_y``, ``coord_x`` (top-left pixel at level 0), ``tumor_patch``,
            ``center_tumor_patch``.
        """
        index = self._index(index)
        row = self._row(index)
        meta = self._meta.row(row) if self._meta is not None else dict.fromkeys(META_COLUMNS)
        slide = meta.pop("wsi")
        return {"file": str(self.images.path), "labels_file": str(self._labels_path),
                "split": self.split, "index": row, "label": int(self.targets[index]),
                "patient": slide, "slide": slide, **meta}

    def _load(self, index: int) -> tuple[tv_tensors.Image, int]:
        return self._pair(index, self.images[self._row(index)])

    def _pair(self, index: int, pixels: np.ndarray) -> tuple[tv_tensors.Image, int]:
        return tv_tensors.Image(torch.from_numpy(pixels).permute(2, 0, 1)), int(self.targets[index])

    def __getitems__(self, indices: list[int]) -> list[tuple[Any, Any]]:
        """Samples ``indices``, their images read together (a DataLoader's batch fetch)."""
        positions = [self._index(i) for i in indices]
        pixels = self.images[np.asarray([self._row(i) for i in positions], dtype=np.int64)]
        return [self._transformed(*self._pair(i, p)) for i, p in zip(positions, pixels, strict=True)]


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


def _gunzip(path: Path, bar: tqdm[Any]) -> Path:
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


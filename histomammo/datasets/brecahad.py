"""BreCaHAD (Aksac et al. 2019): 162 H&E images of breast cancer with annotated cell centres.

Layout (folder names matched in any letter case; some copies spell ``groundtruth``):

```text
<root>/images/Case_1-01.tif        RGB uint8, 1024 x 1360
<root>/groundTruth/Case_1-01.json  {"mitosis": [{"x": .., "y": ..}, ...], "tumor": [...], ...}
```

``BreCaHAD`` serves 512 x 680 patches with a box around every annotated cell of the
chosen classes, the way ``seeds/brecahad_faster_rcnn.txt`` (sections 2.4.2-2.4.4) trains and
evaluates its Faster R-CNN; ``read_annotations`` parses one file and
``split_brecahad`` gives the paper's 138 / 12 / 12 split.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from histomammo.datasets._brecahad_files import (
    BRECAHAD_KEYS,
    PAPER_SPLIT,
    case_of,
    find_pairs,
    read_annotations,
    split_brecahad,
)
from histomammo.datasets._contract import ContractDataset, resolve_split
from histomammo.errors import DataFormatError
from histomammo.io.tiff import TiffImage

__all__ = [
    "BRECAHAD_KEYS",
    "PAPER_SPLIT",
    "BreCaHAD",
    "collate_detection",
    "list_images",
    "read_annotations",
    "split_brecahad",
]

logger = logging.getLogger("histomammo.datasets.brecahad")

_PATCHES_PER_IMAGE: dict[Literal["train", "val", "test"], int] = {"train": 1, "val": 5, "test": 10}  # the paper's 138, 60 and 120 patches
_EVAL_STREAM = 1  # seed stream of the fixed validation/test patch positions


def list_images(root: str | os.PathLike[str], *, strict: bool = False) -> list[str]:
    """The names (file stems) of a BreCaHAD root's paired images, sorted.

    An image is paired when ``groundTruth/`` holds its ``.json``. An unpaired image or
    annotation is logged as a warning and left out, as [`BreCaHAD`][histomammo.datasets.BreCaHAD]
    does; ``strict=True`` raises ``MissingFileError`` instead. The names are what
    [`split_brecahad`][histomammo.datasets.brecahad.split_brecahad] and ``BreCaHAD(names=...)``
    take.

    Examples
    --------
    >>> import tempfile
    >>> from histomammo.datasets.synthetic import make_brecahad
    >>> root = make_brecahad(tempfile.mkdtemp(), n_cases=2, images_per_case=(1, 1),
    ...                      size=(64, 80), nuclei=(2, 3), seed=0)
    >>> list_images(root)
    ['Case_1-01', 'Case_2-01']
    """
    def warn(file: Path, row: int | None, message: str, error: type[Exception]) -> None:
        logger.warning("%s: %s", file, message)

    pairs = find_pairs(root, on_problem=None if strict else warn)
    return [name for name, _, _ in pairs]


def collate_detection(batch: Sequence[tuple[Any, Any]]) -> tuple[list[Any], list[Any]]:
    """``[(image, target), ...]`` -> ``([images], [targets])``, as torchvision detectors take."""
    images, targets = zip(*batch, strict=True)
    return list(images), list(targets)


class BreCaHAD(ContractDataset):
    """BreCaHAD patches with one box per annotated cell, as ``(image, target)`` samples.

    Parameters
    ----------
    root : path
        Folder holding ``images/`` and ``groundTruth/`` (either folder name in any letter
        case: copies spell ``groundtruth`` too).
    split : {"train", "val", "test"}
        Which images (see [`split_brecahad`][histomammo.datasets.brecahad.split_brecahad];
        ``"valid"`` is an alias of ``"val"``) and how patches are drawn: ``"train"`` one
        random patch per image per epoch (138 x 100 epochs = the paper's 13,800), positions
        from ``(seed, epoch, index)``; ``"val"`` 5 and ``"test"`` 10 patches per image (the
        paper's 60 and 120) at positions fixed by ``seed`` alone, so every evaluation sees the
        same patches.
    transforms : callable, optional
        A ``torchvision.transforms.v2`` transform of ``(image, target)``, e.g.
        ``v2.RandomHorizontalFlip()`` (the paper's augmentation); boxes are
        ``tv_tensors`` so any v2 transform composes. ``v2.SanitizeBoundingBoxes`` always
        runs last.
    transform, target_transform : callable, optional
        Applied to the image and to the target alone (not with ``transforms``), e.g.
        ``transform=v2.ToDtype(torch.float32, scale=True)`` for a torchvision detector.
    strict : bool
        Raise on the first bad file instead of skipping it (see Notes).
    names : sequence of str, optional
        A custom split: these image names instead of ``split``'s (``split`` still chooses
        how patches are drawn).
    patches : {"crop", "downscale"}
        The paper is ambiguous: "both dimensions were reduced by a factor of 2 ... 512 x
        680" reads as downscaling the whole image, "512x680 patches which are sampled from
        138 images ... 13800 patches" as crops. The default is ``"crop"``: only crops make
        "sampled" patches and a distinct validation draw "5 times" meaningful, and they keep
        nuclei at full resolution (then interpolated x2 by the model, as the paper says).
        ``"downscale"``: the whole image halved (area interpolation, rounded back to
        uint8), one sample per image.
    patch_size : (height, width)
        Default the paper's (512, 680).
    box_size : float
        Side in full-resolution pixels of the square drawn around each cell centre
        (default 32 px = 16.4 um at 0.514 um/px: a tumour nucleus of 8-15 um and a margin).
    classes : mapping of str to int, optional
        Which annotation keys become which labels (>= 1); default ``{"tumor": 1}``, the
        paper's malignant cells; e.g. all seven keys as labels 1-7.
    min_inside : float
        A box clipped to the patch is kept when at least this fraction of its area is
        inside (0.5 by default).
    seed : int
        Seed of the split and of every patch position.
    group_by_case : bool
        Passed to [`split_brecahad`][histomammo.datasets.brecahad.split_brecahad].
    image_size : (height, width) or None
        The declared image size, checked for every image (BreCaHAD's is (1024, 1360)); an
        image of another size is skipped as a problem, never silently mis-scaled. ``None``
        accepts any size and scales each file's normalised points by its own size.
    samples_per_image : int, optional
        Override the 1 / 5 / 10 patches per image.

    Notes
    -----
    A sample is ``(image, target)``: ``image`` a ``tv_tensors.Image`` uint8 (3, H, W) RGB as
    stored; ``target`` ``{"boxes": BoundingBoxes XYXY (N, 4) float32, "labels": int64 (N,),
    "image_id": int}`` (``image_id`` the image's index in ``names``). Patches without cells
    are valid samples with empty targets.
    [`sample_info`][histomammo.datasets.brecahad.BreCaHAD.sample_info]
    gives the file, case and the region read. Reads go through
    [`TiffImage.read_region`][histomammo.io.tiff.TiffImage.read_region]. Use
    [`collate_detection`][histomammo.datasets.brecahad.collate_detection] as the
    DataLoader's ``collate_fn`` and call ``set_epoch`` at every epoch.

    The split is drawn over every paired image, so a bad file does not move the others.
    Row-level problems are logged warnings listed in ``problems`` (errors with
    ``strict=True``) and the image is skipped: an image without its annotation file or the
    reverse, an annotation that is not valid JSON or lacks a key or holds a bad point, an
    image that is not RGB uint8, not of ``image_size`` or smaller than ``patch_size``.

    Examples
    --------
    >>> import tempfile
    >>> from histomammo.datasets.synthetic import make_brecahad
    >>> root = make_brecahad(tempfile.mkdtemp(), n_cases=3, images_per_case=2, size=(96, 120))
    >>> data = BreCaHAD(root, "test", patch_size=(48, 60), image_size=None)
    >>> len(data), data.names
    (20, ['Case_1-01', 'Case_1-02'])
    >>> image, target = data[-1]
    >>> tuple(image.shape), image.dtype, target["boxes"].format.value, target["labels"].dtype
    ((3, 48, 60), torch.uint8, 'XYXY', torch.int64)
    >>> data.sample_info(-1)["name"], data.sample_info(-1)["patient"]
    ('Case_1-02', 'Case_1')
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: Literal["train", "val", "test"] = "train",
        *,
        transforms: Callable[..., Any] | None = None,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
        strict: bool = False,
        names: Sequence[str] | None = None,
        patches: Literal["crop", "downscale"] = "crop",
        patch_size: tuple[int, int] = (512, 680),
        box_size: float = 32.0,
        classes: Mapping[str, int] | None = None,
        min_inside: float = 0.5,
        seed: int = 0,
        group_by_case: bool = True,
        image_size: tuple[int, int] | None = (1024, 1360),
        samples_per_image: int | None = None,
    ) -> None:
        super().__init__(root, transforms=transforms, transform=transform,
                         target_transform=target_transform, strict=strict)
        split = resolve_split(split, _PATCHES_PER_IMAGE, dataset="BreCaHAD")
        _check_arguments(patches, patch_size, box_size, min_inside, samples_per_image)
        self.split, self.patches, self.seed = split, patches, int(seed)
        self.patch_size = (int(patch_size[0]), int(patch_size[1]))
        self.box_size, self.min_inside = float(box_size), float(min_inside)
        self.classes = _check_classes(classes)
        self._sanitize = v2.SanitizeBoundingBoxes()
        self.epoch = 0
        pairs = {name: (image, truth) for name, image, truth
                 in find_pairs(self.root, on_problem=self.report_problem)}
        if names is None:
            names = split_brecahad(list(pairs), self.seed, group_by_case)[split]
        unknown = sorted(set(names) - set(pairs))
        if unknown:
            raise ValueError(f"{self.root}: no image named {unknown[:5]}; the dataset has "
                             f"{len(pairs)} images such as {sorted(pairs)[:3]}")
        loaded = [(n, *pairs[n], self._load_image(*pairs[n], image_size))
                  for n in sorted(set(names))]
        kept = [(name, image, truth, loaded_image) for name, image, truth, loaded_image in loaded
                if loaded_image is not None]
        if not kept:
            raise DataFormatError(f"{self.root}: every {split} image was skipped "
                                  f"({len(self.problems)} problems, see the log)")
        self.names: list[str] = [item[0] for item in kept]
        self._files = [item[1] for item in kept]
        self._annotations = [item[2] for item in kept]
        self._shapes = [item[3][0] for item in kept]
        self._cells = [item[3][1] for item in kept]
        per_image = 1 if patches == "downscale" else _PATCHES_PER_IMAGE[split]
        self.samples_per_image = samples_per_image or per_image

    def _load_image(self, image: Path, truth: Path, image_size: tuple[int, int] | None
                    ) -> tuple[tuple[int, int], tuple[np.ndarray, np.ndarray]] | None:
        """``(shape, cells)`` of one image, or None (a problem reported) when unusable."""
        try:
            shape = _check_image(image, image_size)
            if self.patches == "crop" and (shape[0] < self.patch_size[0]
                                           or shape[1] < self.patch_size[1]):
                raise DataFormatError(f"{image}: image is {shape[0]} x {shape[1]}, smaller than "
                                      f"the {self.patch_size[0]} x {self.patch_size[1]} patches")
        except DataFormatError as err:
            self.report_problem(image, None, f"{err}; image skipped", type(err))
            return None
        try:
            return shape, self._read_cells(truth, shape)
        except DataFormatError as err:
            self.report_problem(truth, None, f"{err}; image skipped", type(err))
            return None

    def _read_cells(self, json_path: Path, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Cell centres ``(column, row)`` (N, 2) and labels (N,) of the chosen classes."""
        points = read_annotations(json_path, width=shape[1], height=shape[0])
        centres = [points[key] for key in self.classes]
        labels = [np.full(len(points[key]), label) for key, label in self.classes.items()]
        return np.concatenate(centres), np.concatenate(labels).astype(np.int64)

    def __len__(self) -> int:
        return len(self.names) * self.samples_per_image

    def set_epoch(self, epoch: int) -> None:
        """Draw the training patches of ``epoch`` (validation/test patches never change)."""
        self.epoch = int(epoch)

    def region(self, index: int) -> tuple[int, int, int, int]:
        """``(top, left, height, width)`` in full-resolution pixels read for sample ``index``."""
        index = self._index(index)
        image, k = divmod(index, self.samples_per_image)
        h, w = self._shapes[image]
        if self.patches == "downscale":
            return 0, 0, h, w
        if self.split == "train":
            rng = np.random.default_rng([self.seed, self.epoch, index])
        else:
            rng = np.random.default_rng([self.seed, _EVAL_STREAM, image, k])
        ph, pw = self.patch_size
        return int(rng.integers(0, h - ph + 1)), int(rng.integers(0, w - pw + 1)), ph, pw

    def sample_info(self, index: int) -> dict[str, Any]:
        """Where sample ``index`` came from, at the current epoch.

        Returns
        -------
        dict
            ``file`` and ``annotation`` (paths as str), ``split``, ``name``
            (``"Case_1-01"``), ``patient`` (the case, ``"Case_1"``), ``image_index`` (in
            ``names``), the region read ``top``, ``left``, ``height``, ``width`` in
            full-resolution pixels, ``scale`` (output pixels per full-resolution pixel) and
            ``epoch``.
        """
        index = self._index(index)
        image = index // self.samples_per_image
        top, left, height, width = self.region(index)
        scale = self.patch_size[0] / height if self.patches == "downscale" else 1.0
        return {"file": str(self._files[image]), "annotation": str(self._annotations[image]),
                "split": self.split, "name": self.names[image],
                "patient": case_of(self.names[image]), "image_index": image, "top": top,
                "left": left, "height": height, "width": width, "scale": scale,
                "epoch": self.epoch}

    def _load(self, index: int) -> tuple[tv_tensors.Image, dict[str, Any]]:
        image_index = index // self.samples_per_image
        top, left, height, width = self.region(index)
        with TiffImage(self._files[image_index]) as tiff:
            pixels = tiff.read_region(top, left, height, width)
        tensor = torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)
        if self.patches == "downscale":
            area = torch.nn.functional.interpolate(tensor[None].float(), size=self.patch_size,
                                                   mode="area")[0]
            tensor = area.round_().clamp_(0, 255).to(torch.uint8)
        boxes, labels = self._patch_boxes(image_index, top, left, height, width)
        out_h, out_w = tensor.shape[1:]
        target = {
            "boxes": tv_tensors.BoundingBoxes(boxes * np.array([out_w / width, out_h / height] * 2),
                                              format="XYXY", canvas_size=(out_h, out_w),
                                              dtype=torch.float32),
            "labels": torch.from_numpy(labels),
            "image_id": image_index,
        }
        return tv_tensors.Image(tensor), target

    def _transformed(self, image: Any, target: Any) -> tuple[Any, Any]:
        image, target = super()._transformed(image, target)
        if isinstance(target, dict) and "boxes" in target and "labels" in target:
            image, target = self._sanitize(image, target)
        return image, target

    def _patch_boxes(self, image: int, top: int, left: int, height: int,
                     width: int) -> tuple[np.ndarray, np.ndarray]:
        """Boxes (N, 4) XYXY in region pixels, clipped; those mostly outside dropped."""
        centres, labels = self._cells[image]
        half = self.box_size / 2
        local = centres - np.array([left, top], dtype=np.float64)
        boxes = np.concatenate([local - half, local + half], axis=1).reshape(-1, 4)
        clipped = np.clip(boxes, 0, [width, height, width, height])
        area = np.prod(clipped[:, 2:] - clipped[:, :2], axis=1)
        keep = area >= self.min_inside * self.box_size**2 - 1e-9
        keep &= area > 0
        return clipped[keep], labels[keep]


def _check_arguments(patches: str, patch_size: tuple[int, int], box_size: float,
                     min_inside: float, samples_per_image: int | None) -> None:
    if patches not in ("crop", "downscale"):
        raise ValueError(f"patches must be 'crop' or 'downscale', but got {patches!r}")
    if len(patch_size) != 2 or min(patch_size) < 1:
        raise ValueError(f"patch_size must be (height, width) >= 1, but got {patch_size!r}")
    if not box_size > 0:
        raise ValueError(f"box_size must be > 0 pixels, but got {box_size!r}")
    if not 0 < min_inside <= 1:
        raise ValueError(f"min_inside must be in (0, 1], but got {min_inside!r}")
    if samples_per_image is not None and (not isinstance(samples_per_image, int)
                                          or samples_per_image < 1):
        raise ValueError(f"samples_per_image must be an int >= 1, but got {samples_per_image!r}")


def _check_classes(classes: Mapping[str, int] | None) -> dict[str, int]:
    classes = {"tumor": 1} if classes is None else dict(classes)
    unknown = sorted(set(classes) - set(BRECAHAD_KEYS))
    if not classes or unknown:
        raise ValueError(f"classes must map some of {list(BRECAHAD_KEYS)} to labels, but got "
                         f"unknown keys {unknown}" if unknown else "classes is empty")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1
               for v in classes.values()):
        raise ValueError(f"class labels must be ints >= 1 (0 is the background), but got "
                         f"{classes!r}")
    return classes


def _check_image(path: Path, image_size: tuple[int, int] | None) -> tuple[int, int]:
    """``(height, width)`` of an RGB uint8 TIFF, refused when not ``image_size``."""
    with TiffImage(path) as tiff:
        shape, dtype = tiff.shape, tiff.dtype
    if len(shape) != 3 or shape[2] != 3 or dtype != np.uint8:
        raise DataFormatError(f"{path}: image of shape {shape} and dtype {dtype}; expected "
                              "an RGB uint8 image (H, W, 3)")
    if image_size is not None and tuple(shape[:2]) != tuple(image_size):
        raise DataFormatError(f"{path}: image is {shape[0]} x {shape[1]}; expected the "
                              f"declared {image_size[0]} x {image_size[1]} (pass "
                              "image_size=None to accept any size)")
    return int(shape[0]), int(shape[1])

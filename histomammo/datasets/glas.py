"""GlaS@MICCAI'2015 (Warwick-QU) gland segmentation: the flat release layout, read lazily.

The release (often unpacked as ``Warwick QU Dataset (Released 2016_07_08)``) is one flat
folder:

```text
train_1.bmp  train_1_anno.bmp  ...  train_85.bmp   train_85_anno.bmp
testA_1.bmp  testA_1_anno.bmp  ...  testA_60.bmp   testA_60_anno.bmp
testB_1.bmp  testB_1_anno.bmp  ...  testB_20.bmp   testB_20_anno.bmp
Grade.csv
```

Each ``<name>_anno.bmp`` is an *instance* label image: one grey value per gland, 0 for the
background. Its values are kept as they are, never relabelled by connectivity (two touching
glands would merge). ``Grade.csv`` gives each image's patient and grades (see
[`read_grade_csv`][histomammo.datasets.glas.read_grade_csv] for its quirks). The 16 patients
(IDs 1-16) recur across train, testA and testB, and a patient's images within one part may
mix benign and malignant: the grade belongs to the image, and the release's parts are not
patient-disjoint.

References
----------
K. Sirinukunwattana et al., "Gland segmentation in colon histology images: The GlaS
challenge contest", Medical Image Analysis 35, 2017.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.ops import masks_to_boxes

from histomammo.datasets._contract import ContractDataset, resolve_split
from histomammo.datasets._glas_files import (
    ANNOTATION_EXPECTED,
    IMAGE_EXPECTED,
    bmp_header,
    check_annotation_mode,
    read_glas_annotation,
    read_glas_image,
    read_grade_csv,
)
from histomammo.errors import DataFormatError, MissingFileError

__all__ = ["GlaS", "read_grade_csv", "read_glas_image", "read_glas_annotation"]

#: The dataset's splits: the release's three parts, and ``"test"`` for testA and testB.
SPLITS: tuple[Literal["train", "testA", "testB", "test"], ...] = ("train", "testA", "testB",
                                                                   "test")
PARTS: dict[str, tuple[str, ...]] = {"train": ("train",), "testA": ("testA",), "testB": ("testB",),
         "test": ("testA", "testB")}
TARGETS = ("instances", "semantic")


@dataclass(frozen=True)
class _Record:
    """Where one GlaS image lies and what ``Grade.csv`` says of it (no pixel data)."""

    name: str
    image: Path
    annotation: Path
    size: tuple[int, int]
    patient: int | None
    grade: str | None
    grade_sirinukunwattana: str | None


def _part_names(root: Path, part: str) -> list[str]:
    pattern = re.compile(rf"^{part}_(\d+)\.bmp$")
    found = [(int(m.group(1)), m.group(0)[:-4]) for p in root.iterdir()
             if (m := pattern.match(p.name))]
    return [name for _, name in sorted(found)]


def _masks_target(masks: torch.Tensor) -> dict[str, Any]:
    """Boxes (XYXY, pixel edges), labels and masks of ``(N, H, W)`` masks, empty ones dropped."""
    if masks.numel():
        masks = masks[masks.flatten(1).amax(1) > 0]
    height, width = masks.shape[-2:]
    if len(masks):
        boxes = masks_to_boxes(masks)
        boxes = boxes + torch.tensor([0.0, 0.0, 1.0, 1.0], dtype=boxes.dtype,
                                     device=boxes.device)  # pixel centres -> pixel edges
    else:
        boxes = torch.zeros((0, 4), device=masks.device)
    return {
        "boxes": tv_tensors.BoundingBoxes(boxes, format="XYXY", canvas_size=(height, width)),
        "labels": torch.ones(len(masks), dtype=torch.int64, device=masks.device),
        "masks": tv_tensors.Mask(masks),
    }


def _instance_target(labels: torch.Tensor) -> dict[str, Any]:
    """Boxes, labels and masks of an ``(H, W)`` instance label tensor (Mask R-CNN's format)."""
    ids = torch.unique(labels)
    ids = ids[ids != 0]
    return _masks_target((labels[None] == ids[:, None, None]).to(torch.uint8))


class GlaS(ContractDataset):
    """The GlaS gland segmentation images of one split, decoded on access.

    Parameters
    ----------
    root : str or Path
        The flat release folder (holding ``Grade.csv`` and the ``.bmp`` files).
    split : {"train", "testA", "testB", "test"}
        85, 60 and 20 images in the release; ``"test"`` is testA then testB (80).
    target : {"instances", "semantic"}
        ``"instances"``: ``{"boxes": BoundingBoxes (N, 4) XYXY, "labels": int64 (N,) of
        ones, "masks": Mask (N, H, W) uint8, "image_id": int}`` (torchvision's Mask R-CNN
        format). ``"semantic"``: ``{"mask": Mask (H, W) uint8 in {0, 1}, "image_id": int}``
        (U-Net's). ``image_id`` is the sample's index.
    transforms : callable, optional
        ``transforms(image, target) -> (image, target)``, a ``torchvision.transforms.v2``
        transform (e.g. [`glas_augmentation`][histomammo.systems.glas.glas_augmentation])
        that moves image and masks together. After it, empty instance masks are dropped and
        boxes are recomputed from the masks.
    transform, target_transform : callable, optional
        Applied to the image and to the target alone (not with ``transforms``).
    strict : bool
        Raise on the first bad file or row instead of skipping or flagging it.

    Attributes
    ----------
    problems : list of Problem
        What was skipped or flagged (see Notes).

    Notes
    -----
    ``image`` is a ``tv_tensors.Image`` (3, H, W) uint8 RGB as stored. Construction lists the
    files, reads ``Grade.csv`` and the BMP headers (sizes, modes) only; the object holds
    paths, never pixels (the paper's "memory-efficient batch generator" is this lazy Dataset).
    [`sample_info`][histomammo.datasets.glas.GlaS.sample_info] says where each image came from.

    Row-level problems are logged warnings listed in ``problems`` (errors with
    ``strict=True``): an image without its ``_anno.bmp``, an annotation of another size than
    its image or in colour mode, or an undecodable header is skipped; an image without a
    ``Grade.csv`` row, or whose patient ID is not an integer, is kept with the unknown
    fields ``None``; a ``Grade.csv`` row that names no image of the split, is short or
    repeats a name is ignored.

    Raises
    ------
    MissingFileError
        ``root`` or ``Grade.csv`` missing.
    DataFormatError
        No image of the split (or none usable); ``Grade.csv`` without its columns.
    ValueError
        An unknown ``split`` or ``target``.

    Examples
    --------
    >>> import tempfile
    >>> from histomammo.datasets.synthetic import make_glas
    >>> root = make_glas(tempfile.mkdtemp(), counts={"train": 2, "testA": 1, "testB": 1},
    ...                  size=(96, 128), seed=0)
    >>> data = GlaS(root, split="train")
    >>> image, target = data[-1]
    >>> image.shape[0], image.dtype, target["masks"].shape[1:] == image.shape[1:]
    (3, torch.uint8, True)
    >>> info = data.sample_info(-1)
    >>> info["name"], info["part"], info["patient"] in range(1, 17)
    ('train_2', 'train', True)
    >>> len(GlaS(root, "test"))
    2
    """

    def __init__(
        self,
        root: str | Path,
        split: Literal["train", "testA", "testB", "test"] = "train",
        *,
        target: Literal["instances", "semantic"] = "instances",
        transforms: Callable[[Any, Any], tuple[Any, Any]] | None = None,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
        strict: bool = False,
    ) -> None:
        super().__init__(root, transforms=transforms, transform=transform,
                         target_transform=target_transform, strict=strict)
        self.split = resolve_split(split, SPLITS, dataset="GlaS")
        if target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, but got {target!r}")
        self.target = target
        if not self.root.is_dir():
            raise MissingFileError(f"{self.root}: no such folder; expected the GlaS release folder")
        names = [n for part in PARTS[self.split] for n in _part_names(self.root, part)]
        if not names:
            raise DataFormatError(f"{self.root}: no {' or '.join(PARTS[self.split])}_<n>.bmp "
                                  "images; expected the flat GlaS release layout")
        grade_path = self.root / "Grade.csv"
        grades = read_grade_csv(grade_path, on_problem=self.report_problem)
        self._report_rows_without_image(grade_path, grades, set(names))
        records = [self._record(name, grades.get(name), grade_path) for name in names]
        self._records = [r for r in records if r is not None]
        if not self._records:
            raise DataFormatError(f"{self.root}: every {self.split} image was skipped "
                                  f"({len(self.problems)} problems, see the log)")

    def _report_rows_without_image(self, grade_path: Path, grades: dict[str, dict[str, Any]],
                                   names: set[str]) -> None:
        parts = PARTS[self.split]
        for name, row in grades.items():
            if name.split("_")[0] in parts and name not in names:
                self.report_problem(grade_path, row["row"], f"names {name!r} but there is no "
                                    f"{name}.bmp; row ignored", MissingFileError)

    def _record(self, name: str, row: dict[str, Any] | None, grade_path: Path) -> _Record | None:
        image_path, anno_path = self.root / f"{name}.bmp", self.root / f"{name}_anno.bmp"
        try:
            if not anno_path.exists():
                raise MissingFileError(f"{anno_path}: no such file; expected the instance "
                                       f"annotation of {image_path.name}")
            size, _ = bmp_header(image_path, IMAGE_EXPECTED)
            anno_size, anno_mode = bmp_header(anno_path, ANNOTATION_EXPECTED)
            check_annotation_mode(anno_path, anno_mode)
        except (MissingFileError, DataFormatError) as err:
            self.report_problem(image_path, None, f"{err}; image skipped", type(err))
            return None
        if anno_size != size:
            self.report_problem(anno_path, None, f"annotation is {anno_size[1]}x{anno_size[0]} "
                                f"(WxH) but its image {image_path.name} is {size[1]}x{size[0]}; "
                                "image skipped")
            return None
        if row is None:
            self.report_problem(grade_path, None, f"no row for {name}; image kept, its patient "
                                "and grades unknown")
            return _Record(name, image_path, anno_path, size, None, None, None)
        return _Record(name, image_path, anno_path, size, self._patient(row, grade_path),
                       row["grade (GlaS)"], row["grade (Sirinukunwattana et al. 2015)"])

    def _patient(self, row: dict[str, Any], grade_path: Path) -> int | None:
        try:
            return int(row["patient ID"])
        except ValueError:
            self.report_problem(grade_path, row["row"], f"patient ID {row['patient ID']!r} of "
                                f"{row['name']}; expected an integer; kept as unknown")
            return None

    def __len__(self) -> int:
        return len(self._records)

    def sample_info(self, index: int) -> dict[str, Any]:
        """Where image ``index`` came from and what ``Grade.csv`` says of it.

        Returns
        -------
        dict
            ``file`` and ``annotation`` (paths as str), ``split`` (this dataset's),
            ``part`` (``"train"``, ``"testA"`` or ``"testB"``), ``name`` (``"testA_12"``),
            ``patient`` (int 1-16, or None), ``grade`` (``"benign"``/``"malignant"``),
            ``grade_sirinukunwattana`` (as released) and ``size`` ``(height, width)``.
        """
        record = self._records[self._index(index)]
        return {"file": str(record.image), "annotation": str(record.annotation),
                "split": self.split, "part": record.name.split("_")[0], "name": record.name,
                "patient": record.patient, "grade": record.grade,
                "grade_sirinukunwattana": record.grade_sirinukunwattana, "size": record.size}

    def labels(self, index: int) -> np.ndarray:
        """The ``(H, W)`` int32 instance labels of image ``index`` at its original size."""
        return read_glas_annotation(self._records[self._index(index)].annotation)

    def _load(self, index: int) -> tuple[tv_tensors.Image, dict[str, Any]]:
        record = self._records[index]
        image = tv_tensors.Image(torch.from_numpy(read_glas_image(record.image)).permute(2, 0, 1))
        labels = torch.from_numpy(self.labels(index))
        if self.target == "instances":
            target = _instance_target(labels)
        else:
            target = {"mask": tv_tensors.Mask((labels > 0).to(torch.uint8))}
        target["image_id"] = index
        return image, target

    def _transformed(self, image: Any, target: Any) -> tuple[Any, Any]:
        image, target = super()._transformed(image, target)
        if self.transforms is not None and self.target == "instances" \
                and isinstance(target, dict) and "masks" in target:
            target.update(_masks_target(torch.as_tensor(target["masks"])))
        return image, target

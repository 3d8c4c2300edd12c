"""GlaS@MICCAI'2015 (Warwick-QU) gland segmentation: the flat release layout, read lazily.

The release (often unpacked as ``Warwick QU Dataset (Released 2016_07_08)``) is one flat
folder::

    train_1.bmp  train_1_anno.bmp  ...  train_85.bmp   train_85_anno.bmp
    testA_1.bmp  testA_1_anno.bmp  ...  testA_60.bmp   testA_60_anno.bmp
    testB_1.bmp  testB_1_anno.bmp  ...  testB_20.bmp   testB_20_anno.bmp
    Grade.csv

Each ``<name>_anno.bmp`` is an *instance* label image: one grey value per gland, 0 for the
background. Its values are kept as they are, never relabelled by connectivity (two touching
glands would merge). ``Grade.csv`` has the header
``name,patient ID, grade (GlaS), grade (Sirinukunwattana et al. 2015)``; headers and values
carry leading spaces, which are stripped here.

References
----------
K. Sirinukunwattana et al., "Gland segmentation in colon histology images: The GlaS
challenge contest", Medical Image Analysis 35, 2017.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torchvision import tv_tensors
from torchvision.ops import masks_to_boxes

from histomammo.errors import DataFormatError, MissingFileError
from histomammo.io._paths import require_file

__all__ = ["GlaS", "GlaSRecord", "read_grade_csv", "read_glas_image", "read_glas_annotation"]

SPLITS = ("train", "testA", "testB")
TARGETS = ("instances", "semantic")
GRADE_COLUMNS = ("name", "patient ID", "grade (GlaS)", "grade (Sirinukunwattana et al. 2015)")
_GREY_MODES = ("L", "P", "I", "I;16")


@dataclass(frozen=True)
class GlaSRecord:
    """Where one GlaS image lies and what ``Grade.csv`` says of it (no pixel data).

    Attributes
    ----------
    name : str
        ``"train_1"``, ``"testA_12"``, ...
    image : Path
        The ``<name>.bmp`` file.
    annotation : Path
        The ``<name>_anno.bmp`` instance label file.
    size : tuple of int
        ``(height, width)`` read from the image file's header.
    patient : int
        ``patient ID`` column.
    grade : str
        ``grade (GlaS)`` column: ``"benign"`` or ``"malignant"``.
    grade_sirinukunwattana : str
        ``grade (Sirinukunwattana et al. 2015)`` column (``"healthy"``, ``"adenomatous"``, ...).
    """

    name: str
    image: Path
    annotation: Path
    size: tuple[int, int]
    patient: int
    grade: str
    grade_sirinukunwattana: str


def read_grade_csv(path: str | Path) -> dict[str, dict[str, str]]:
    """Read ``Grade.csv``: ``{name: {"patient ID": ..., "grade (GlaS)": ..., ...}}``.

    Leading and trailing spaces of headers and values are stripped (the release has them).

    Raises
    ------
    MissingFileError
        ``path`` does not exist.
    DataFormatError
        A column of :data:`GRADE_COLUMNS` is missing, a row is short, a name repeats or
        the file is not text.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "Grade.csv"
    >>> _ = path.write_text("name,patient ID, grade (GlaS), grade (Sirinukunwattana et al. 2015)\\n"
    ...                     "testA_1, 4, benign, adenomatous\\n")
    >>> read_grade_csv(path)["testA_1"]["grade (GlaS)"]
    'benign'
    """
    path = Path(path)
    require_file(path, "the GlaS Grade.csv")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataFormatError(f"{path}: not UTF-8 text ({err}); expected a CSV file") from None
    rows = [[cell.strip() for cell in row] for row in csv.reader(text.splitlines()) if row]
    if not rows:
        raise DataFormatError(f"{path}: empty; expected the header {', '.join(GRADE_COLUMNS)}")
    header = rows[0]
    missing = [col for col in GRADE_COLUMNS if col not in header]
    if missing:
        raise DataFormatError(
            f"{path}: columns {missing} missing; found {header}, expected {list(GRADE_COLUMNS)}"
        )
    table: dict[str, dict[str, str]] = {}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) < len(header):
            raise DataFormatError(
                f"{path}: line {line} has {len(row)} fields, expected {len(header)}"
            )
        record = dict(zip(header, row, strict=False))
        if record["name"] in table:
            raise DataFormatError(f"{path}: line {line} repeats the name {record['name']!r}")
        table[record["name"]] = record
    return table


def _open_bmp(path: Path, expected: str) -> Image.Image:
    require_file(path, expected)
    try:
        return Image.open(path)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise DataFormatError(f"{path}: cannot be decoded ({err}); expected {expected}") from None


def _decode(image: Image.Image, path: Path, expected: str) -> np.ndarray:
    try:
        image.load()
        return np.array(image)
    except (OSError, SyntaxError, ValueError) as err:
        raise DataFormatError(f"{path}: truncated or corrupt ({err}); expected {expected}") from None


def read_glas_image(path: str | Path) -> np.ndarray:
    """Decode a GlaS ``.bmp`` image to an ``(H, W, 3)`` uint8 RGB array.

    Raises
    ------
    MissingFileError, DataFormatError
        No such file; not a decodable image, truncated, or not RGB.
    """
    path = Path(path)
    expected = "a 24-bit RGB BMP image"
    with _open_bmp(path, expected) as image:
        if image.mode != "RGB":
            raise DataFormatError(f"{path}: image mode {image.mode!r}; expected {expected}")
        return _decode(image, path, expected)


def read_glas_annotation(path: str | Path) -> np.ndarray:
    """Decode a ``<name>_anno.bmp`` instance label image to an ``(H, W)`` int32 array.

    The grey values are the gland labels (0 background), kept as stored: never relabelled
    by connectivity. An RGB file whose three channels are equal is read as grey.

    Raises
    ------
    MissingFileError, DataFormatError
        No such file; undecodable or truncated; a colour (non-grey) annotation.
    """
    path = Path(path)
    expected = "a greyscale instance label BMP (one value per gland, 0 background)"
    with _open_bmp(path, expected) as image:
        mode = image.mode
        _annotation_mode_ok(path, mode)
        labels = _decode(image, path, expected)
    if mode == "RGB":
        if not (np.array_equal(labels[..., 0], labels[..., 1])
                and np.array_equal(labels[..., 0], labels[..., 2])):
            raise DataFormatError(
                f"{path}: a colour annotation (its RGB channels differ); expected {expected}"
            )
        labels = labels[..., 0]
    return labels.astype(np.int32)


def _annotation_mode_ok(path: Path, mode: str) -> None:
    if mode not in _GREY_MODES + ("RGB",):
        raise DataFormatError(
            f"{path}: annotation mode {mode!r} (a colour or unsupported image); expected a "
            "greyscale instance label BMP"
        )


def _split_names(root: Path, split: str) -> list[str]:
    pattern = re.compile(rf"^{split}_(\d+)\.bmp$")
    found = [(int(m.group(1)), m.group(0)[:-4]) for p in root.iterdir()
             if (m := pattern.match(p.name))]
    return [name for _, name in sorted(found)]


def _header(path: Path, expected: str) -> tuple[tuple[int, int], str]:
    with _open_bmp(path, expected) as image:
        return (image.height, image.width), image.mode


def _make_record(root: Path, name: str, grades: dict[str, dict[str, str]]) -> GlaSRecord:
    image_path, anno_path = root / f"{name}.bmp", root / f"{name}_anno.bmp"
    if not anno_path.exists():
        raise MissingFileError(
            f"{anno_path}: no such file; expected the instance annotation of {image_path.name}"
        )
    size, _ = _header(image_path, "a 24-bit RGB BMP image")
    anno_size, anno_mode = _header(anno_path, "a greyscale instance label BMP")
    _annotation_mode_ok(anno_path, anno_mode)
    if anno_size != size:
        raise DataFormatError(
            f"{anno_path}: annotation is {anno_size[1]}x{anno_size[0]} (WxH) but its image "
            f"{image_path.name} is {size[1]}x{size[0]}; expected the same size"
        )
    row = grades[name]
    try:
        patient = int(row["patient ID"])
    except ValueError:
        raise DataFormatError(
            f"{root / 'Grade.csv'}: patient ID {row['patient ID']!r} of {name}; expected an integer"
        ) from None
    return GlaSRecord(name, image_path, anno_path, size, patient, row["grade (GlaS)"],
                      row["grade (Sirinukunwattana et al. 2015)"])


def _instance_target(labels: torch.Tensor) -> dict[str, Any]:
    """Boxes, labels and masks of an ``(H, W)`` instance label tensor (Mask R-CNN's format)."""
    ids = torch.unique(labels)
    ids = ids[ids != 0]
    masks = (labels[None] == ids[:, None, None]).to(torch.uint8)
    return _masks_target(masks)


def _masks_target(masks: torch.Tensor) -> dict[str, Any]:
    if masks.numel():
        masks = masks[masks.flatten(1).amax(1) > 0]
    height, width = masks.shape[-2:]
    boxes = masks_to_boxes(masks) if len(masks) else torch.zeros((0, 4))
    boxes = boxes + torch.tensor([0.0, 0.0, 1.0, 1.0])  # pixel centres -> pixel edges
    return {
        "boxes": tv_tensors.BoundingBoxes(boxes, format="XYXY", canvas_size=(height, width)),
        "labels": torch.ones(len(masks), dtype=torch.int64),
        "masks": tv_tensors.Mask(masks),
    }


class GlaS(torch.utils.data.Dataset):
    """The GlaS gland segmentation images of one split, decoded on access.

    Parameters
    ----------
    root : str or Path
        The flat release folder (holding ``Grade.csv`` and the ``.bmp`` files).
    split : {"train", "testA", "testB"}
        85, 60 and 20 images in the release.
    target : {"instances", "semantic"}
        ``"instances"``: ``{"boxes": BoundingBoxes (N, 4) XYXY, "labels": int64 (N,) of
        ones, "masks": Mask (N, H, W) uint8}`` (torchvision's Mask R-CNN format).
        ``"semantic"``: ``{"mask": Mask (H, W) uint8 in {0, 1}}`` (U-Net's).
        Both also carry ``"image_id"`` (the index), ``"name"``, ``"patient"`` and ``"grade"``.
    transforms : callable, optional
        ``transforms(image, target) -> (image, target)``, a ``torchvision.transforms.v2``
        transform (e.g. :func:`histomammo.transforms.augment.glas_augmentation`) that moves
        image and masks together. After it, empty instance masks are dropped and boxes are
        recomputed from the masks.

    Notes
    -----
    Construction lists the files, reads ``Grade.csv`` and the BMP headers (sizes, modes)
    only; the object holds paths, never pixels (the paper's "memory-efficient batch
    generator" is this lazy Dataset). ``image`` is a ``tv_tensors.Image`` (3, H, W) uint8.

    Raises
    ------
    MissingFileError
        ``root`` or ``Grade.csv`` missing; an image without its ``_anno.bmp``.
    DataFormatError
        No image of the split; names missing from ``Grade.csv``; an annotation whose size
        differs from its image, or a colour annotation; an unreadable file.

    Examples
    --------
    >>> import tempfile
    >>> from histomammo.datasets.synthetic import make_glas
    >>> root = make_glas(tempfile.mkdtemp(), counts={"train": 2, "testA": 1, "testB": 1},
    ...                  size=(96, 128), seed=0)
    >>> data = GlaS(root, split="train")
    >>> image, target = data[0]
    >>> image.shape[0], target["masks"].shape[1:] == image.shape[1:], target["name"]
    (3, True, 'train_1')
    """

    def __init__(
        self,
        root: str | Path,
        split: Literal["train", "testA", "testB"] = "train",
        target: Literal["instances", "semantic"] = "instances",
        transforms: Callable[[Any, Any], tuple[Any, Any]] | None = None,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, but got {split!r}")
        if target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, but got {target!r}")
        self.root = Path(root)
        if not self.root.is_dir():
            raise MissingFileError(f"{self.root}: no such folder; expected the GlaS release folder")
        self.split, self.target, self.transforms = split, target, transforms
        names = _split_names(self.root, split)
        if not names:
            raise DataFormatError(
                f"{self.root}: no {split}_<n>.bmp images; expected the flat GlaS release layout"
            )
        grade_path = self.root / "Grade.csv"
        grades = read_grade_csv(grade_path)
        absent = [name for name in names if name not in grades]
        if absent:
            raise DataFormatError(
                f"{grade_path}: no row for {len(absent)} image(s) {absent[:5]}; expected a row "
                "for every image"
            )
        self.records = [_make_record(self.root, name, grades) for name in names]

    def __len__(self) -> int:
        return len(self.records)

    def labels(self, index: int) -> np.ndarray:
        """The ``(H, W)`` int32 instance labels of image ``index`` at its original size."""
        return read_glas_annotation(self.records[index].annotation)

    def __getitem__(self, index: int) -> tuple[tv_tensors.Image, dict[str, Any]]:
        record = self.records[index]
        image = tv_tensors.Image(torch.from_numpy(read_glas_image(record.image)).permute(2, 0, 1))
        labels = torch.from_numpy(self.labels(index))
        if self.target == "instances":
            target = _instance_target(labels)
        else:
            target = {"mask": tv_tensors.Mask((labels > 0).to(torch.uint8))}
        target.update(image_id=index, name=record.name, patient=record.patient,
                      grade=record.grade)
        if self.transforms is not None:
            image, target = self.transforms(image, target)
            if self.target == "instances":
                target.update(_masks_target(torch.as_tensor(target["masks"])))
        return image, target

    def __repr__(self) -> str:
        return (f"GlaS(root={str(self.root)!r}, split={self.split!r}, target={self.target!r}, "
                f"images={len(self)})")

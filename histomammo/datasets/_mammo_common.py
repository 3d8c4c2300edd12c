"""What the mammography datasets share: records, CSV tables, patient splits, image loading."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision import tv_tensors

from histomammo.errors import DataFormatError, MissingFileError
from histomammo.io.dicom import read_dicom

__all__ = ["MammoDataset", "MammoRecord", "patient_split", "read_table"]

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class MammoRecord:
    """One sample of a mammography dataset, traceable to disk.

    Attributes
    ----------
    path : pathlib.Path
        The DICOM file.
    patient : str
        Patient identifier (splits never separate a patient's images).
    laterality : str
        ``"L"`` or ``"R"``.
    view : str
        ``"CC"`` or ``"MLO"``.
    label : int
        The target ``__getitem__`` returns.
    extra : dict
        Dataset-specific fields (BI-RADS, pathology, study date, ROI mask paths, ...).
    """

    path: Path
    patient: str
    laterality: str
    view: str
    label: int
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


def read_table(
    path: Path, required: Sequence[str], *, delimiter: str = ",", what: str = "table"
) -> list[dict[str, str]]:
    """Rows of a CSV file as dicts of stripped strings, after checking the header.

    Raises
    ------
    MissingFileError
        ``path`` does not exist.
    DataFormatError
        Unreadable text, no header, or columns of ``required`` missing (all are named).
    """
    if not path.is_file():
        raise MissingFileError(f"{path}: {what} not found; expected a {what} file")
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, delimiter=delimiter)
            header = [cell.strip() for cell in next(reader, [])]
            body = [row for row in reader if any(cell.strip() for cell in row)]
    except (UnicodeDecodeError, csv.Error) as err:
        raise DataFormatError(f"{path}: not a readable {what}: {err}") from err
    missing = [name for name in required if name not in header]
    if missing:
        raise DataFormatError(
            f"{path}: {what} lacks the column(s) {missing}; found {header}, expected "
            f"{delimiter!r}-separated columns including {list(required)}"
        )
    rows = []
    for number, row in enumerate(body, start=2):
        if len(row) > len(header):
            raise DataFormatError(f"{path}: row {number} has {len(row)} cells; the header has {len(header)}")
        cells = [cell.strip() for cell in row] + [""] * (len(header) - len(row))
        rows.append(dict(zip(header, cells, strict=True)) | {"__row__": str(number)})
    return rows


def patient_split(
    patients: Sequence[str],
    split: str | None,
    *,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
) -> np.ndarray:
    """Boolean mask of the samples whose patient falls in ``split``.

    Patients (never images) are shuffled with ``seed`` and cut by the cumulative
    ``fractions`` of patients into train / val / test, so one patient's images are always in
    one split; the same patients and seed always give the same split. ``split=None`` keeps all.

    Examples
    --------
    >>> patients = [f"p{i // 2}" for i in range(20)]   # two images per patient
    >>> train = patient_split(patients, "train", seed=1)
    >>> int(train.sum()), sorted({patients[i] for i in range(20) if train[i]}) != []
    (16, True)
    """
    if split is None:
        return np.ones(len(patients), dtype=bool)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS} or None, got {split!r}")
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {fractions}")
    unique = sorted(set(patients))
    order = np.random.default_rng(seed).permutation(len(unique))
    edges = np.rint(np.cumsum(fractions) * len(unique)).astype(int)
    position = {unique[i]: rank for rank, i in enumerate(order)}
    index = SPLITS.index(split)
    low, high = (0 if index == 0 else edges[index - 1]), edges[index]
    return np.array([low <= position[p] < high for p in patients], dtype=bool)


class MammoDataset(Dataset):
    """Base of the mammography readers: ``records`` in, ``(image, target)`` out.

    ``image`` is a ``tv_tensors.Image`` of shape ``(1, H, W)``, float32 in [0, 1] with dense
    tissue bright (:func:`histomammo.io.read_dicom`'s display values, MONOCHROME1 inverted),
    passed through ``transform`` when given; ``target`` is the record's ``label``.
    ``records[i]`` traces sample ``i`` back to its file, patient, laterality and view.
    """

    records: list[MammoRecord]
    transform: Callable[[Any], Any] | None

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        if not -len(self.records) <= index < len(self.records):
            raise IndexError(f"index {index} out of range for {len(self.records)} samples")
        record = self.records[index]
        image: Any = tv_tensors.Image(torch.from_numpy(read_dicom(record.path).pixels)[None])
        if self.transform is not None:
            image = self.transform(image)
        return image, record.label

    @property
    def labels(self) -> list[int]:
        """The targets of all samples, in order (without reading any image)."""
        return [record.label for record in self.records]

"""What the mammography datasets share: records, CSV tables, patient splits, image loading."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torchvision import tv_tensors

from histomammo.datasets._contract import ContractDataset
from histomammo.datasets.birads import parse_birads
from histomammo.errors import DataFormatError, MissingFileError
from histomammo.io.dicom import read_dicom

__all__ = ["PIXELS", "MammoDataset", "MammoRecord", "RecordDataset", "check_pixels", "load_image",
           "patient_split", "read_table", "split_names"]

SPLITS: tuple[Literal["train", "val", "test"], ...] = ("train", "val", "test")


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
        ``"CC"`` or ``"MLO"``; INbreast also has ``"FB"`` (one image), a header without
        View Position gives ``""``.
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
    path: Path, required: Sequence[str], *, delimiter: str = ",", what: str = "table",
    problem: Callable[[Path, int, str], None] | None = None,
) -> list[dict[str, str]]:
    """Rows of a CSV file as dicts of stripped strings, after checking the header.

    Any line ending (LF, CRLF, CR) is read, and quoted cells may hold line breaks (the
    CBIS-DDSM path cells do); each row's number (the header is row 1, counting records,
    not lines) is kept under ``"__row__"``. A row with more cells than the header is a
    row-level problem: passed to ``problem(path, row, message)`` and skipped when given,
    raised otherwise.

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
            message = f"row {number} has {len(row)} cells; the header has {len(header)}"
            if problem is None:
                raise DataFormatError(f"{path}: {message}")
            problem(path, number, message + "; skipped")
            continue
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


PIXELS = ("raw", "display")


def check_pixels(pixels: str) -> str:
    """``pixels`` checked against [`PIXELS`][histomammo.datasets._mammo_common.PIXELS] (ValueError naming the choices)."""
    if pixels not in PIXELS:
        raise ValueError(f"pixels must be 'raw' or 'display', got {pixels!r}")
    return pixels


def load_image(path: Path, pixels: str) -> np.ndarray:
    """The ``(H, W)`` image of ``path`` under the datasets' pixel policy.

    ``"raw"``: the stored integers in the file's dtype (uint16 or int16), except that a
    MONOCHROME1 image is mirrored within its stored range (``low + high - v``, the range
    of Bits Stored and Pixel Representation) so that dense tissue is bright in every
    image, as the thesis pipeline expects; no LUT, window or scaling. ``"display"``:
    [`read_dicom`][histomammo.io.read_dicom]'s VOI-windowed float32 in [0, 1].
    """
    if pixels == "display":
        return read_dicom(path).pixels
    image = read_dicom(path, raw=True)
    stored = image.pixels
    if image.photometric != "MONOCHROME1":
        return stored
    if stored.dtype.kind == "u":
        low, high = 0, 2**image.bits_stored - 1
    else:
        low, high = -(2 ** (image.bits_stored - 1)), 2 ** (image.bits_stored - 1) - 1
    return (low + high - stored.astype(np.int64)).astype(stored.dtype)


def split_names(patients: Sequence[str], fractions: tuple[float, float, float],
                seed: int) -> list[str]:
    """The split (``"train"``, ``"val"`` or ``"test"``) of each sample's patient."""
    names = [""] * len(patients)
    for split in SPLITS:
        for i, inside in enumerate(patient_split(patients, split, fractions=fractions, seed=seed)):
            if inside:
                names[i] = split
    return names


class MammoDataset(ContractDataset):
    """Base of the mammography readers: ``records`` in, ``(image, target)`` out.

    ``image`` is a ``tv_tensors.Image`` of shape ``(1, H, W)``: with ``pixels="raw"``
    (the default) the stored integers (int32 for unsigned data, since torch has few uint16
    kernels and cannot pass uint16 images between DataLoader workers; int16 as stored for
    signed data; MONOCHROME1 mirrored
    within its stored range so dense tissue is bright, see [`load_image`][histomammo.datasets._mammo_common.load_image]); with
    ``pixels="display"`` float32 in [0, 1] ([`read_dicom`][histomammo.io.read_dicom]'s VOI-windowed
    display values). ``target`` is the record's ``label``. ``sample_info(i)`` (and
    ``records[i]``) trace sample ``i`` back to its file, patient, laterality and view.
    """

    records: list[MammoRecord]
    pixels: str
    split: str | None

    def __len__(self) -> int:
        return len(self.records)

    def _load(self, index: int) -> tuple[Any, int]:
        record = self.records[index]
        pixels = load_image(record.path, self.pixels)
        if pixels.dtype == np.uint16:
            # torch 2.14 has few uint16 kernels and cannot rebuild a uint16 tv_tensors.Image
            # sent back by a DataLoader worker; int32 holds every stored value exactly.
            pixels = pixels.astype(np.int32)
        return tv_tensors.Image(torch.from_numpy(pixels)[None]), record.label

    def sample_info(self, index: int) -> dict[str, Any]:
        """Where sample ``index`` came from.

        Returns
        -------
        dict
            ``file`` (str), ``patient``, ``laterality``, ``view``, ``split`` (the split the
            patient belongs to), ``label``, and the record's dataset-specific ``extra``
            fields (BI-RADS, pathology, dates, ...).
        """
        record = self.records[self._index(index)]
        return {**record.extra, "file": str(record.path), "patient": record.patient,
                "laterality": record.laterality, "view": record.view,
                "split": record.extra.get("split", self.split), "label": record.label}

    def keep_split(self, records: Sequence[MammoRecord], names: Sequence[str]) -> list[MammoRecord]:
        """``records`` with their split name in ``extra["split"]``, those of ``self.split``
        (all when it is None)."""
        return [replace(r, extra=r.extra | {"split": name})
                for r, name in zip(records, names, strict=True)
                if self.split is None or name == self.split]

    def row_birads(self, value: str, table: Path, row: int) -> str | None:
        """[`parse_birads`][histomammo.datasets.birads.parse_birads] of a table cell, or None after reporting the row as a problem."""
        try:
            return parse_birads(value)
        except ValueError as err:
            self.report_problem(table, row, f"{err}; skipped")
            return None

    @property
    def labels(self) -> list[int]:
        """The targets of all samples, in order (without reading any image)."""
        return [record.label for record in self.records]


class RecordDataset(MammoDataset):
    """A ``MammoDataset`` over given records (e.g. rows of a [`MammoIndex`][histomammo.datasets.mammo_index.MammoIndex]).

    Parameters
    ----------
    records : sequence of MammoRecord
        The samples, in order.
    split : str, optional
        The split the records belong to (reported by ``sample_info``).
    transforms, transform, target_transform : callable, optional
        As every dataset ([`ContractDataset`][histomammo.datasets._contract.ContractDataset]).
    pixels : {"raw", "display"}
        The pixel policy (``MammoDataset``).
    """

    def __init__(self, records: Sequence[MammoRecord], split: str | None = None, *,
                 transforms: Callable[[Any, Any], Any] | None = None,
                 transform: Callable[[Any], Any] | None = None,
                 target_transform: Callable[[Any], Any] | None = None,
                 pixels: str = "raw") -> None:
        records = list(records)
        root = os.path.commonpath([str(r.path.parent) for r in records]) if records else "."
        super().__init__(root, transforms=transforms, transform=transform,
                         target_transform=target_transform)
        self.records, self.split, self.pixels = records, split, check_pixels(pixels)

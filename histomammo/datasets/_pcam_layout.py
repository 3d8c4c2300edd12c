"""The PatchCamelyon file layout, in one place: file names, sizes, meta columns, writers.

The reader ([`histomammo.datasets.pcam`][histomammo.datasets.pcam]), the synthetic writer and
[`make_pcam_from_slides`][histomammo.datasets.pcam_from_slides.make_pcam_from_slides] all go through these
names, so the three cannot drift apart.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from histomammo._atomic import atomic_write
from histomammo.errors import DataFormatError

__all__ = [
    "META_COLUMNS",
    "PATCH_SHAPE",
    "REAL_SIZES",
    "SPLITS",
    "MetaRow",
    "MetaTable",
    "data_name",
    "labels_array",
    "meta_name",
    "read_meta",
    "write_h5",
    "write_meta",
]

SPLITS = ("train", "valid", "test")
# Patches per split in the published set (Veeling et al. 2018; torchvision.datasets.PCAM).
REAL_SIZES = {"train": 262_144, "valid": 32_768, "test": 32_768}
PATCH_SHAPE = (96, 96, 3)
META_COLUMNS = ("coord_y", "coord_x", "tumor_patch", "center_tumor_patch", "wsi")


def data_name(split: str, kind: str) -> str:
    """``camelyonpatch_level_2_split_{split}_{kind}.h5``, ``kind`` being ``"x"`` or ``"y"``."""
    return f"camelyonpatch_level_2_split_{split}_{kind}.h5"


def meta_name(split: str) -> str:
    """``camelyonpatch_level_2_split_{split}_meta.csv``."""
    return f"camelyonpatch_level_2_split_{split}_meta.csv"


@dataclass(frozen=True)
class MetaRow:
    """One row of a PCam meta CSV: where a patch came from.

    ``coord_y``/``coord_x`` are the patch's top-left pixel at level 0 of slide ``wsi``;
    ``tumor_patch`` says whether any pixel is tumour, ``center_tumor_patch`` whether the
    centre 32x32 region holds tumour (the label).
    """

    coord_y: int
    coord_x: int
    tumor_patch: bool
    center_tumor_patch: bool
    wsi: str


def write_h5(path: str | os.PathLike[str], array: np.ndarray) -> Path:
    """Write ``array`` as dataset ``"x"`` or ``"y"`` (from the file name) of a new HDF5 file, atomically."""
    path = Path(path)
    key = "y" if path.name.endswith("_y.h5") else "x"
    with atomic_write(path, "wb") as handle, h5py.File(handle, "w") as file:
        file.create_dataset(key, data=array)
    return path


def write_meta(path: str | os.PathLike[str], rows: Iterable[MetaRow]) -> Path:
    """Write the meta CSV as PCam does: an unnamed index column, booleans as True/False."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["", *META_COLUMNS])
    for index, row in enumerate(rows):
        writer.writerow([index, row.coord_y, row.coord_x, row.tumor_patch,
                         row.center_tumor_patch, row.wsi])
    path = Path(path)
    with atomic_write(path, "w") as handle:
        handle.write(buffer.getvalue())
    return path


def labels_array(labels: Sequence[int] | np.ndarray) -> np.ndarray:
    """Labels in PCam's ``y`` shape: ``(N, 1, 1, 1)`` uint8."""
    return np.asarray(labels, dtype=np.uint8).reshape(-1, 1, 1, 1)


_BOOLEANS = {"True": True, "False": False}


def _parse_row(path: Path, line: int, fields: list[str]) -> MetaRow:
    """One data line of a meta CSV as a MetaRow, or DataFormatError naming file and line."""
    if len(fields) != len(META_COLUMNS) + 1:
        raise DataFormatError(
            f"{path}, line {line}: {len(fields)} fields, expected {len(META_COLUMNS) + 1} "
            f"(index, {', '.join(META_COLUMNS)})"
        )
    _, coord_y, coord_x, tumor, centre, wsi = fields
    try:
        return MetaRow(int(coord_y), int(coord_x), _BOOLEANS[tumor], _BOOLEANS[centre], wsi)
    except (ValueError, KeyError) as err:
        raise DataFormatError(
            f"{path}, line {line}: cannot read {fields[1:5]} ({err!r}); expected two "
            f"integer coordinates and two booleans written True/False"
        ) from err


def _meta_lines(path: Path) -> list[tuple[int, list[str]]]:
    """``(line number, fields)`` of each data line of a meta CSV, after checking its header."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            lines = list(csv.reader(handle))
    except (UnicodeDecodeError, csv.Error) as err:
        raise DataFormatError(f"{path}: not a readable CSV text file ({err})") from err
    if not lines or [name.strip() for name in lines[0][1:]] != list(META_COLUMNS):
        found = lines[0] if lines else "an empty file"
        raise DataFormatError(
            f"{path}: header {found!r}; expected an index column then {list(META_COLUMNS)}"
        )
    return [(number, fields) for number, fields in enumerate(lines[1:], start=2) if fields]


def read_meta(
    path: str | os.PathLike[str],
    *,
    on_problem: Callable[[Path, int, str], None] | None = None,
) -> list[MetaRow | None]:
    """Read a PCam meta CSV (index column, then ``META_COLUMNS``), checking its header.

    Parameters
    ----------
    path : path
        The CSV.
    on_problem : callable, optional
        ``on_problem(path, line, message)`` for a line that cannot be read (its entry is
        then None); by default such a line raises.

    Raises
    ------
    DataFormatError
        The header names other columns or the file is not UTF-8 text (always); a line with
        another number of fields, a coordinate that is not an integer or a flag that is not
        True/False (without ``on_problem``).
    """
    path = Path(path)
    rows: list[MetaRow | None] = []
    for number, fields in _meta_lines(path):
        try:
            rows.append(_parse_row(path, number, fields))
        except DataFormatError as err:
            if on_problem is None:
                raise
            on_problem(path, number, f"{str(err).split(': ', 1)[1]}; slide fields unknown")
            rows.append(None)
    return rows


class MetaTable:
    """PCam meta rows held as arrays, small to pickle into DataLoader workers.

    ``coords`` ``(N, 2)`` int64 (coord_y, coord_x), ``flags`` ``(N, 2)`` int8 (tumor_patch,
    center_tumor_patch), ``slide`` ``(N,)`` int32 codes into ``slides``; an unreadable row
    holds -1 everywhere and reads back with every field None.
    """

    def __init__(self, coords: np.ndarray, flags: np.ndarray, slide: np.ndarray,
                 slides: Sequence[str]) -> None:
        self.coords, self.flags, self.slide, self.slides = coords, flags, slide, list(slides)

    @classmethod
    def from_rows(cls, rows: Sequence[MetaRow | None]) -> MetaTable:
        """From parsed rows, None for an unreadable one."""
        slides = sorted({row.wsi for row in rows if row is not None})
        code = {name: i for i, name in enumerate(slides)}
        coords = np.array([(r.coord_y, r.coord_x) if r else (-1, -1) for r in rows],
                          np.int64).reshape(-1, 2)
        flags = np.array([(r.tumor_patch, r.center_tumor_patch) if r else (-1, -1)
                          for r in rows], np.int8).reshape(-1, 2)
        return cls(coords, flags, np.array([code[r.wsi] if r else -1 for r in rows], np.int32),
                   slides)

    def __len__(self) -> int:
        return len(self.slide)

    def row(self, index: int) -> dict[str, int | bool | str | None]:
        """``{"coord_y", "coord_x", "tumor_patch", "center_tumor_patch", "wsi"}`` of a row."""
        if self.slide[index] < 0:
            return dict.fromkeys(META_COLUMNS)
        return {"coord_y": int(self.coords[index, 0]), "coord_x": int(self.coords[index, 1]),
                "tumor_patch": bool(self.flags[index, 0]),
                "center_tumor_patch": bool(self.flags[index, 1]),
                "wsi": self.slides[self.slide[index]]}

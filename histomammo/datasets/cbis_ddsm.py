"""CBIS-DDSM (Lee et al., 2017): the curated DDSM subset with mass and calcification ROIs.

The release describes each abnormality in one row of four tables,
``{mass,calc}_case_description_{train,test}_set.csv`` (the mass tables spell the density
column ``breast_density``, the calcification tables ``breast density``); each row names its
full mammogram, cropped lesion and ROI mask as ``<folder>/<study UID>/<series UID>/00000N.dcm``.
The public download (TCIA) renames the study and series folders and the files
(``<folder>/07-20-2016-DDSM-NNNNN/1.000000-full mammogram images-NNNNN/1-1.dcm``), so
files are resolved by their top folder and the Series Instance UID in their headers (the
literal path is preferred where it exists, as in the original DDSM-style layout).
[`CBISDDSM`][histomammo.datasets.cbis_ddsm.CBISDDSM]'s Notes list every quirk of the real release it handles.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np

from histomammo.datasets._contract import resolve_split
from histomammo.datasets._mammo_common import (
    SPLITS,
    MammoDataset,
    MammoRecord,
    check_pixels,
    read_table,
    split_names,
)
from histomammo.datasets._mammo_headers import read_header
from histomammo.errors import DataFormatError, MissingFileError
from histomammo.io.dicom import read_dicom

__all__ = ["CBISDDSM"]

_PATHOLOGIES = ("MALIGNANT", "BENIGN", "BENIGN_WITHOUT_CALLBACK")
_COMMON = ("patient_id", "left or right breast", "image view", "abnormality id", "assessment",
           "pathology", "image file path", "cropped image file path", "ROI mask file path")
_DENSITY = {"mass": "breast_density", "calc": "breast density"}
_SIDES = {"LEFT": "L", "RIGHT": "R"}


class CBISDDSM(MammoDataset):
    """CBIS-DDSM full mammograms with one image-level label: 1 if any abnormality is malignant.

    Parameters
    ----------
    root : str or Path
        Folder holding the four case-description CSVs.
    split : {"train", "val", "test"}
        The release's official split (``"train"``, ``"test"``); ``"val"`` (alias
        ``"valid"``) is a patient-grouped share ``val_fraction`` of the official training
        tables, which ``"train"`` then leaves out.
    abnormality : {"mass", "calc", "both"}
        Which tables to read. With ``"both"`` a mammogram described in both (the release
        keeps separate ``Mass-`` and ``Calc-`` copies of it) is one sample, keyed by
        patient, side and view; its file is the mass copy.
    transforms, transform, target_transform : callable, optional
        As every dataset ([`ContractDataset`][histomammo.datasets._contract.ContractDataset]); the
        image is a ``(1, H, W)`` ``tv_tensors.Image``, the target an int.
    pixels : {"raw", "display"}
        ``"raw"`` (default): the stored 16-bit values, exactly, as int32; ``"display"``: float32 in
        [0, 1] (``MammoDataset``).
    strict : bool
        Raise on the first row-level problem instead of skipping or flagging it.
    images_dir : str or Path, optional
        Folder holding the image folders; ``root / "CBIS-DDSM"`` if it exists, else ``root``.
    val_fraction : float
        Share of the training patients in ``"val"``; 0 (default) keeps the official split.
    seed : int
        Seed of the ``"val"`` split.

    Attributes
    ----------
    records : list of MammoRecord
        ``extra["abnormalities"]`` lists, per abnormality, its ``id``, ``type``,
        ``pathology``, ``assessment``, ``subtlety``, ``roi_mask`` and ``cropped`` paths
        (for patch extraction) and ``roi_mask_shape`` (its ``(rows, columns)`` as stored).
    problems : list of Problem
        Rows skipped (duplicates, unknown pathology or assessment, absent files) and rows
        kept but flagged (a ROI mask not of its mammogram's size, an absent crop).

    Notes
    -----
    Files are found by their top folder and the Series Instance UID in their headers, so
    every layout of the download works (the CSV's literal paths, UID folders with TCIA's
    ``1-1.dcm`` names, descriptive folder names). The crop is looked up in the series the
    CSV's own crop column names, which in 104 rows of the release is not the ROI mask's
    series. In a series holding both files the mask is the one nearer the mammogram's
    size and the crop the other (the CSV's ``00000N`` numbers are not reliable: the mass
    tables number the crop first, the calcification tables the mask).

    Raises
    ------
    MissingFileError
        A table is absent (at once); with ``strict=True`` also a file or folder a row names.
    DataFormatError
        Missing columns (at once); with ``strict=True`` the first bad row or unreadable
        header, or a ROI mask not of its mammogram's size.

    Examples
    --------
    >>> import tempfile
    >>> from histomammo.datasets.synthetic import make_cbis_ddsm
    >>> data = CBISDDSM(make_cbis_ddsm(tempfile.mkdtemp(), n_patients=4, shape=(96, 64)))
    >>> image, target = data[0]
    >>> tuple(image.shape), image.dtype, target in (0, 1)
    ((1, 96, 64), torch.int32, True)
    >>> data.roi_masks(0)[0].dtype
    dtype('bool')
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        *,
        abnormality: Literal["mass", "calc", "both"] = "mass",
        transforms: Callable[[Any, Any], Any] | None = None,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
        pixels: Literal["raw", "display"] = "raw",
        strict: bool = False,
        images_dir: str | Path | None = None,
        val_fraction: float = 0.0,
        seed: int = 0,
    ) -> None:
        super().__init__(root, transforms=transforms, transform=transform,
                         target_transform=target_transform, strict=strict)
        if abnormality not in ("mass", "calc", "both"):
            raise ValueError(f"abnormality must be 'mass', 'calc' or 'both', got {abnormality!r}")
        self.split = resolve_split(split, SPLITS, dataset="CBIS-DDSM")
        if self.split == "val" and not 0 < val_fraction < 1:
            raise ValueError("CBIS-DDSM has no official validation split: pass val_fraction "
                             f"in (0, 1) to hold out training patients, got {val_fraction}")
        self.pixels = check_pixels(pixels)
        default = self.root / "CBIS-DDSM"
        self.images_dir = Path(images_dir) if images_dir else (default if default.is_dir() else self.root)
        self._series: dict[str, dict[str, list[tuple[Path, tuple[int, int]]]]] = {}
        official = "test" if self.split == "test" else "train"
        kinds = ["mass", "calc"] if abnormality == "both" else [abnormality]
        groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for kind in kinds:
            for row in self._rows(kind, official):
                key = (row["patient"], row["side"], row["view"]) if abnormality == "both" else (row["folder"],)
                groups.setdefault(key, []).append(row)
        records = [r for r in (self._record(rows) for _, rows in sorted(groups.items())) if r]
        names = (split_names([r.patient for r in records], (1 - val_fraction, val_fraction, 0.0), seed)
                 if official == "train" else ["test"] * len(records))
        self.records = self.keep_split(records, names)

    def _rows(self, kind: str, split: str) -> list[dict[str, Any]]:
        table = self.root / f"{kind}_case_description_{split}_set.csv"
        required = (*_COMMON, _DENSITY[kind])
        seen: set[tuple[str, str]] = set()
        rows = []
        for row in read_table(table, required, what=f"CBIS-DDSM {kind} table",
                              problem=self.report_problem):
            number = int(row["__row__"])
            folder = row["image file path"].strip().split("/")[0]
            key = (folder, row["abnormality id"])
            if key in seen:
                self.report_problem(table, number, f"duplicate row for {folder} abnormality "
                                    f"{key[1]}; expected one row per abnormality; skipped")
                continue
            seen.add(key)
            if row["pathology"] not in _PATHOLOGIES or row["left or right breast"] not in _SIDES:
                self.report_problem(table, number, f"pathology {row['pathology']!r} / side "
                                    f"{row['left or right breast']!r}; expected one of "
                                    f"{_PATHOLOGIES} and LEFT or RIGHT; skipped")
                continue
            assessment = self.row_birads(row["assessment"], table, number)
            if assessment is None:
                continue
            rows.append({"table": table, "row": number, "folder": folder, "kind": kind,
                         "patient": row["patient_id"], "side": _SIDES[row["left or right breast"]],
                         "view": row["image view"], "id": row["abnormality id"],
                         "pathology": row["pathology"], "assessment": assessment,
                         "subtlety": row.get("subtlety", ""),
                         "density": row[_DENSITY[kind]], "paths": {
                             name: row[name].strip() for name in
                             ("image file path", "cropped image file path", "ROI mask file path")}})
        return rows

    def _record(self, rows: list[dict[str, Any]]) -> MammoRecord | None:
        first = min(rows, key=lambda r: r["kind"] != "mass")  # the mass copy when both exist
        full = self._find(first, "image file path")
        if full is None:
            return None
        abnormalities = []
        for row in rows:
            item = self._abnormality(row, full[1])
            if item is not None:
                abnormalities.append(item)
        if not abnormalities:
            return None
        label = int(any(item["pathology"] == "MALIGNANT" for item in abnormalities))
        extra = {"abnormalities": abnormalities, "breast_density": first["density"],
                 "folder": first["folder"], "row": first["row"]}
        return MammoRecord(full[0], first["patient"], first["side"], first["view"], label, extra)

    def _abnormality(self, row: dict[str, Any], shape: tuple[int, int]) -> dict[str, Any] | None:
        """One row's abnormality with its ROI mask and crop; None if the mask is absent."""
        mask = self._find(row, "ROI mask file path", nearest=shape)
        if mask is None:
            return None
        crop = self._find(row, "cropped image file path", nearest=shape, exclude=mask[0])
        if mask[1] != shape:
            self.report_problem(row["table"], row["row"], f"ROI mask {mask[0]} is {mask[1]} "
                                f"pixels, its mammogram {shape}; kept as stored, flagged")
        return {"id": row["id"], "type": row["kind"], "pathology": row["pathology"],
                "assessment": row["assessment"], "subtlety": row["subtlety"],
                "roi_mask": mask[0], "roi_mask_shape": mask[1],
                "cropped": None if crop is None else crop[0]}

    def _series_in(self, folder: str) -> dict[str, list[tuple[Path, tuple[int, int]]]]:
        """``{series UID: [(file, (rows, columns)), ...]}`` of every DICOM under ``folder``."""
        if folder not in self._series:
            found: dict[str, list[tuple[Path, tuple[int, int]]]] = {}
            directory = self.images_dir / folder
            for path in sorted(directory.rglob("*.dcm")) if folder else []:
                try:
                    header = read_header(path, ["SeriesInstanceUID", "Rows", "Columns"])
                except DataFormatError as err:
                    self.report_problem(path, None, f"{err}; file skipped")
                    continue
                uid = str(header.get("SeriesInstanceUID", ""))
                found.setdefault(uid, []).append((path, (int(header.get("Rows", 0)), int(header.get("Columns", 0)))))
            self._series[folder] = found
        return self._series[folder]

    def _find(self, row: dict[str, Any], column: str, *, nearest: tuple[int, int] | None = None,
              exclude: Path | None = None) -> tuple[Path, tuple[int, int]] | None:
        """The file ``column`` names: the literal path, else the only file of its series, else
        the one nearest ``nearest`` in size (a ROI mask) or farthest from it (a crop)."""
        literal = row["paths"][column]
        parts = literal.split("/")
        if len(parts) < 3:
            self.report_problem(row["table"], row["row"], f"{column} {literal!r} is not "
                                "<folder>/<study UID>/<series UID>/<file>; skipped")
            return None
        candidates = [c for c in self._series_in(parts[0]).get(parts[-2], []) if c[0] != exclude]
        if not candidates:
            where = self.images_dir / parts[0]
            self.report_problem(row["table"], row["row"], f"no DICOM of series {parts[-2]} under "
                                f"{where} (named {literal!r} in the {column} column)"
                                + ("" if where.is_dir() else "; the image folder is absent"),
                                MissingFileError)
            return None
        exact = [c for c in candidates if c[0] == self.images_dir / literal]
        if exact or len(candidates) == 1 or nearest is None:
            return (exact or candidates)[0]
        distance = sorted(candidates, key=lambda c: _size_distance(c[1], nearest))
        return distance[0] if column == "ROI mask file path" else distance[-1]

    def roi_masks(self, index: int) -> list[np.ndarray]:
        """Boolean masks of sample ``index``'s abnormalities, in table order.

        Each as stored: ``(H, W)`` of its mammogram, except the release's few mis-sized
        masks (flagged in ``problems``; their size is ``roi_mask_shape``).
        """
        return [read_dicom(item["roi_mask"], raw=True).pixels > 0
                for item in self.records[self._index(index)].extra["abnormalities"]]


def _size_distance(size: tuple[int, int], reference: tuple[int, int]) -> float:
    """How far a ``(rows, columns)`` size is from ``reference``: |log| of the area ratio."""
    return abs(math.log(max(size[0] * size[1], 1) / max(reference[0] * reference[1], 1)))

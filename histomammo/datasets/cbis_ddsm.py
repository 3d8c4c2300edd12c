"""CBIS-DDSM (Lee et al., 2017): the curated DDSM subset with mass and calcification ROIs.

The release describes each abnormality in one row of four tables,
``{mass,calc}_case_description_{train,test}_set.csv`` (the mass tables spell the density
column ``breast_density``, the calcification tables ``breast density``); each row names its
full mammogram, cropped lesion and ROI mask as ``<folder>/<study UID>/<series UID>/00000N.dcm``.
The public download (TCIA) renames the study and series folders and the files
(``<folder>/07-20-2016-DDSM-NNNNN/1.000000-full mammogram images-NNNNN/1-1.dcm``), so
files are resolved by their top folder and the Series Instance UID in their headers (the
literal path is preferred where it exists, as in the original DDSM-style layout).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np

from histomammo.datasets._mammo_common import MammoDataset, MammoRecord, read_table
from histomammo.datasets._mammo_headers import read_header
from histomammo.datasets.birads import parse_birads
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
    abnormality : {"mass", "calc", "both"}
        Which tables to read. With ``"both"`` a mammogram described in both (the release
        keeps separate ``Mass-`` and ``Calc-`` copies of it) is one sample, keyed by
        patient, side and view; its file is the mass copy.
    split : {"train", "test"}
        The release's official split.
    transform : callable, optional
        Applied to the ``(1, H, W)`` float32 ``tv_tensors.Image``.
    images_dir : str or Path, optional
        Folder holding the image folders; ``root / "CBIS-DDSM"`` if it exists, else ``root``.

    Attributes
    ----------
    records : list of MammoRecord
        ``extra["abnormalities"]`` lists, per abnormality, its ``id``, ``type``,
        ``pathology``, ``assessment``, ``roi_mask`` and ``cropped`` paths (for patch extraction).

    Raises
    ------
    MissingFileError
        A table, an image folder or a file its rows name is absent.
    DataFormatError
        Missing columns, an unknown pathology or assessment, duplicate rows, unreadable headers.

    Examples
    --------
    >>> import tempfile
    >>> from histomammo.datasets.synthetic import make_cbis_ddsm
    >>> data = CBISDDSM(make_cbis_ddsm(tempfile.mkdtemp(), n_patients=4, shape=(96, 64)))
    >>> image, target = data[0]
    >>> tuple(image.shape), target in (0, 1)
    ((1, 96, 64), True)
    >>> data.roi_masks(0)[0].dtype
    dtype('bool')
    """

    def __init__(
        self,
        root: str | Path,
        abnormality: Literal["mass", "calc", "both"] = "mass",
        split: Literal["train", "test"] = "train",
        *,
        transform: Callable[[Any], Any] | None = None,
        images_dir: str | Path | None = None,
    ) -> None:
        if abnormality not in ("mass", "calc", "both"):
            raise ValueError(f"abnormality must be 'mass', 'calc' or 'both', got {abnormality!r}")
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        self.root, self.transform = Path(root), transform
        default = self.root / "CBIS-DDSM"
        self.images_dir = Path(images_dir) if images_dir else (default if default.is_dir() else self.root)
        self._series: dict[str, dict[str, list[tuple[Path, tuple[int, int]]]]] = {}
        kinds = ["mass", "calc"] if abnormality == "both" else [abnormality]
        groups: dict[tuple, list[dict[str, Any]]] = {}
        for kind in kinds:
            for row in self._rows(kind, split):
                key = (row["patient"], row["side"], row["view"]) if abnormality == "both" else (row["folder"],)
                groups.setdefault(key, []).append(row)
        self.records = [self._record(rows) for _, rows in sorted(groups.items())]

    def _rows(self, kind: str, split: str) -> list[dict[str, Any]]:
        table = self.root / f"{kind}_case_description_{split}_set.csv"
        required = (*_COMMON, _DENSITY[kind])
        seen: set[tuple[str, str]] = set()
        rows = []
        for row in read_table(table, required, what=f"CBIS-DDSM {kind} table"):
            where = f"{table}, row {row['__row__']}"
            folder = row["image file path"].strip().split("/")[0]
            key = (folder, row["abnormality id"])
            if key in seen:
                raise DataFormatError(f"{where}: duplicate row for {folder} abnormality {key[1]}; expected one row per abnormality")
            seen.add(key)
            if row["pathology"] not in _PATHOLOGIES or row["left or right breast"] not in _SIDES:
                raise DataFormatError(
                    f"{where}: pathology {row['pathology']!r} / side {row['left or right breast']!r}; "
                    f"expected one of {_PATHOLOGIES} and LEFT or RIGHT"
                )
            try:
                assessment = parse_birads(row["assessment"], source=where)
            except ValueError as err:
                raise DataFormatError(str(err)) from None
            rows.append({"table": table, "where": where, "folder": folder, "kind": kind,
                         "patient": row["patient_id"], "side": _SIDES[row["left or right breast"]],
                         "view": row["image view"], "id": row["abnormality id"],
                         "pathology": row["pathology"], "assessment": assessment,
                         "density": row[_DENSITY[kind]], "paths": {
                             name: row[name].strip() for name in
                             ("image file path", "cropped image file path", "ROI mask file path")}})
        return rows

    def _record(self, rows: list[dict[str, Any]]) -> MammoRecord:
        first = min(rows, key=lambda r: r["kind"] != "mass")  # the mass copy when both exist
        full, shape = self._resolve(first["paths"]["image file path"], first["where"])
        abnormalities = []
        for row in rows:
            mask, crop = self._resolve_roi(row, shape)
            abnormalities.append({"id": row["id"], "type": row["kind"], "pathology": row["pathology"],
                                  "assessment": row["assessment"], "roi_mask": mask, "cropped": crop})
        label = int(any(row["pathology"] == "MALIGNANT" for row in rows))
        extra = {"abnormalities": abnormalities, "breast_density": first["density"],
                 "folder": first["folder"]}
        return MammoRecord(full, first["patient"], first["side"], first["view"], label, extra)

    def _series_in(self, folder: str, where: str) -> dict[str, list[tuple[Path, tuple[int, int]]]]:
        """``{series UID: [(file, (rows, columns)), ...]}`` of every DICOM under ``folder``."""
        if folder not in self._series:
            directory = self.images_dir / folder
            if not directory.is_dir():
                raise MissingFileError(f"{where}: image folder {directory} not found")
            found: dict[str, list[tuple[Path, tuple[int, int]]]] = {}
            for path in sorted(directory.rglob("*.dcm")):
                header = read_header(path, ["SeriesInstanceUID", "Rows", "Columns"])
                uid = str(header.get("SeriesInstanceUID", ""))
                found.setdefault(uid, []).append((path, (int(header.get("Rows", 0)), int(header.get("Columns", 0)))))
            self._series[folder] = found
        return self._series[folder]

    def _candidates(self, literal: str, where: str) -> list[tuple[Path, tuple[int, int]]]:
        parts = literal.split("/")
        if len(parts) < 3:
            raise DataFormatError(f"{where}: path {literal!r} is not <folder>/<study UID>/<series UID>/<file>")
        candidates = self._series_in(parts[0], where).get(parts[-2], [])
        exact = [c for c in candidates if c[0] == self.images_dir / literal]
        if not candidates:
            raise MissingFileError(
                f"{where}: no DICOM of series {parts[-2]} under {self.images_dir / parts[0]} "
                f"(named {literal!r} in the table)"
            )
        return exact or candidates

    def _resolve(self, literal: str, where: str) -> tuple[Path, tuple[int, int]]:
        return self._candidates(literal, where)[0]

    def _resolve_roi(self, row: dict[str, Any], shape: tuple[int, int]) -> tuple[Path, Path | None]:
        """The ROI mask is the file of its series with the full mammogram's size."""
        literal = row["paths"]["ROI mask file path"]
        candidates = self._series_in(literal.split("/")[0], row["where"]).get(literal.split("/")[-2], [])
        if not candidates:
            self._candidates(literal, row["where"])  # raises the missing-file error
        same_size = [c for c in candidates if c[1] == shape]
        if not same_size:
            raise DataFormatError(
                f"{row['where']}: no ROI mask of the mammogram's size {shape} in series "
                f"{literal.split('/')[-2]}; found sizes {[c[1] for c in candidates]}"
            )
        crop = [c[0] for c in candidates if c[1] != shape]
        return same_size[0][0], (crop[0] if crop else None)

    def roi_masks(self, index: int) -> list[np.ndarray]:
        """Boolean ``(H, W)`` masks of sample ``index``'s abnormalities, in table order."""
        return [read_dicom(item["roi_mask"], raw=True).pixels > 0
                for item in self.records[index].extra["abnormalities"]]

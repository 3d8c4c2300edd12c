"""INbreast (Moreira et al., 2012): full-field digital mammograms with BI-RADS and lesion contours.

The release's layout: ``AllDICOMs/*.dcm`` named ``<file>_<patient hash>_MG_<L|R>_<CC|ML>_ANON.dcm``
(the MLO view is ``ML`` in file names, ``MLO`` in the table), ``INbreast.csv`` (semicolon
separated: ``Patient ID;Patient age;Laterality;View;Acquisition date;File Name;ACR;Bi-Rads``,
the file number in ``File Name``; BI-RADS 1..6 with 4a/4b/4c; some cells blank or padded),
and optionally ``AllXML/<file>.xml``, OsiriX plists with one ROI per lesion (``Point_px``
strings ``"(x, y)"``, names such as ``Mass`` and ``Calcification``).
"""

from __future__ import annotations

import plistlib
import re
import xml.parsers.expat
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple

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
from histomammo.datasets.birads import birads_category, follow_up
from histomammo.errors import DataFormatError, MissingFileError

__all__ = ["INbreast", "Roi"]

_REQUIRED = ("Laterality", "View", "File Name", "Bi-Rads")
_NAME = re.compile(r"^(\d+)_([0-9A-Za-z]+)_MG_([LR])_([A-Z]+)_ANON\.dcm$")
# The file names spell MLO as ML; FB is a view only the table names (File Name 50994300,
# whose file name says ML), kept as the table gives it.
_FILE_VIEWS = {"ML": "MLO"}
_TABLE_ONLY_VIEWS = ("FB",)
_POINT = re.compile(r"^\(\s*([-+0-9.eE]+)\s*,\s*([-+0-9.eE]+)\s*(?:,\s*[-+0-9.eE]+\s*)?\)$")


class Roi(NamedTuple):
    """One annotated lesion of an INbreast image.

    Attributes
    ----------
    name : str
        The ROI's name as annotated, e.g. ``"Mass"``, ``"Calcification"``, ``"Cluster"``.
    points : numpy.ndarray
        float64 ``(N, 2)`` pixel coordinates ``(x, y)``, x along columns; one point for a
        single calcification, a closed polygon's vertices otherwise.
    """

    name: str
    points: np.ndarray


class INbreast(MammoDataset):
    """The INbreast dataset: ``(image, target)`` per DICOM listed in ``INbreast.csv``.

    Parameters
    ----------
    root : str or Path
        Folder holding ``INbreast.csv``, ``AllDICOMs/`` and optionally ``AllXML/``.
    split : {"train", "val", "test"}, optional
        Patient-grouped split by the patient hash in the file names
        (``patient_split``, 80/10/10 by default;
        ``"valid"`` is an alias of ``"val"``). None (default) keeps every image.
    label : {"follow_up", "birads", "malignant"}
        ``"follow_up"``: the thesis's table 4.1 label (1 for BI-RADS 0, 4, 5, 6).
        ``"birads"``: the category 0..6 (4a..4c -> 4; the full score is in
        ``sample_info(i)["birads"]``). ``"malignant"``: 1 for BI-RADS 4..6, 0 for 1..2,
        BI-RADS 3 handled by ``birads3`` -- the common convention in the INbreast
        literature, not the seeds' (the thesis uses follow-up).
    birads3 : {"exclude", "negative"}
        ``label="malignant"`` only: drop BI-RADS 3 images (default) or count them negative.
    views : sequence of str, optional
        Keep only these views; the rest are left out, each with a warning and an entry in
        ``problems``. The release's table has ``CC``, ``MLO`` and, for one image
        (File Name 50994300), ``FB``; pass ``("CC", "MLO")`` for tasks that need the two
        standard views. None (default) keeps all.
    transforms, transform, target_transform : callable, optional
        As every dataset ([`ContractDataset`][histomammo.datasets._contract.ContractDataset]); the
        image is a ``(1, H, W)`` ``tv_tensors.Image``, the target an int.
    pixels : {"raw", "display"}
        ``"raw"`` (default): the stored 14-bit integers, exactly, as int32; ``"display"``: float32
        in [0, 1] through the file's window (``MammoDataset``).
    strict : bool
        Raise on the first bad table row instead of skipping it with a warning.
    fractions : (float, float, float)
        Train / val / test fractions of patients.
    seed : int
        Seed of the split.

    Attributes
    ----------
    problems : list of Problem
        The table rows skipped or left out (duplicates, absent files, a laterality or view
        that disagrees with the file name, unknown BI-RADS, views not in ``views``).

    Raises
    ------
    MissingFileError
        No ``INbreast.csv`` or no ``AllDICOMs/`` (at once); with ``strict=True`` also a
        file named in the table that is absent.
    DataFormatError
        Missing columns (at once); with ``strict=True`` the first bad row.

    Examples
    --------
    >>> import tempfile
    >>> from histomammo.datasets.synthetic import make_inbreast
    >>> data = INbreast(make_inbreast(tempfile.mkdtemp(), n_patients=2, shape=(96, 80)))
    >>> image, target = data[0]
    >>> tuple(image.shape), image.dtype, target in (0, 1)
    ((1, 96, 80), torch.int32, True)
    >>> sorted({data.sample_info(i)["view"] for i in range(len(data))})
    ['CC', 'FB', 'MLO']
    """

    def __init__(
        self,
        root: str | Path,
        split: str | None = None,
        *,
        label: Literal["follow_up", "birads", "malignant"] = "follow_up",
        birads3: Literal["exclude", "negative"] = "exclude",
        views: Sequence[str] | None = None,
        transforms: Callable[[Any, Any], Any] | None = None,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
        pixels: Literal["raw", "display"] = "raw",
        strict: bool = False,
        fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
        seed: int = 0,
    ) -> None:
        super().__init__(root, transforms=transforms, transform=transform,
                         target_transform=target_transform, strict=strict)
        if label not in ("follow_up", "birads", "malignant"):
            raise ValueError(f"label must be 'follow_up', 'birads' or 'malignant', got {label!r}")
        if birads3 not in ("exclude", "negative"):
            raise ValueError(f"birads3 must be 'exclude' or 'negative', got {birads3!r}")
        self.split = None if split is None else resolve_split(split, SPLITS, dataset="INbreast")
        self.label, self.pixels = label, check_pixels(pixels)
        self.views = None if views is None else tuple(views)
        records = [r for r in self._read_records(birads3) if r is not None]
        names = split_names([r.patient for r in records], fractions, seed)
        self.records = self.keep_split(records, names)

    def _files(self) -> dict[str, tuple[Path, re.Match[str]]]:
        folder = self.root / "AllDICOMs"
        if not folder.is_dir():
            raise MissingFileError(f"{folder}: folder not found; expected INbreast's AllDICOMs/")
        files = {}
        for path in sorted(folder.glob("*.dcm")):
            match = _NAME.match(path.name)
            if match is not None:
                files[match.group(1)] = (path, match)
        return files

    def _read_records(self, birads3: str) -> list[MammoRecord | None]:
        table = self.root / "INbreast.csv"
        rows = read_table(table, _REQUIRED, delimiter=";", what="INbreast table",
                          problem=self.report_problem)
        files, seen = self._files(), set[str]()
        return [self._row_record(table, row, files, seen, birads3) for row in rows]

    def _row_record(self, table: Path, row: dict[str, str], files: dict[str, Any],
                    seen: set[str], birads3: str) -> MammoRecord | None:
        """The record of one table row, or None (reported as a problem, or excluded by label)."""
        number, file_id = int(row["__row__"]), row["File Name"]
        if file_id in seen:
            self.report_problem(table, number, f"duplicate row for File Name {file_id!r}; "
                                "expected one row per image; skipped")
            return None
        seen.add(file_id)
        if file_id not in files:
            self.report_problem(table, number, f"File Name {file_id!r} has no file "
                                f"{self.root / 'AllDICOMs'}/{file_id}_<patient>_MG_<L|R>_<view>_ANON.dcm;"
                                " skipped", MissingFileError)
            return None
        path, match = files[file_id]
        file_view = _FILE_VIEWS.get(match.group(4), match.group(4))
        view = row["View"]
        if row["Laterality"] != match.group(3) or (view != file_view and view not in _TABLE_ONLY_VIEWS):
            self.report_problem(table, number, f"table says {row['Laterality']} {view} but the "
                                f"file {path.name} is {match.group(3)} {file_view}; skipped")
            return None
        if self.views is not None and view not in self.views:
            self.report_problem(table, number, f"view {view!r} of {path.name} is not one of "
                                f"views={self.views}; left out")
            return None
        score = self.row_birads(row["Bi-Rads"], table, number)
        if score is None:
            return None
        target = self._target(score, birads3)
        extra = {"birads": score, "acr": row.get("ACR", ""), "file_view": file_view,
                 "acquisition_date": row.get("Acquisition date", ""), "file_id": file_id,
                 "row": number}
        return None if target is None else MammoRecord(path, match.group(2), match.group(3),
                                                       view, target, extra)

    def _target(self, score: str, birads3: str) -> int | None:
        if self.label == "follow_up":
            return int(follow_up(score))
        category = birads_category(score)
        if self.label == "birads":
            return category
        if category >= 4:
            return 1
        if category in (1, 2) or (category == 3 and birads3 == "negative"):
            return 0
        return None  # BI-RADS 3 excluded, or 0 (not in INbreast): no malignancy verdict

    def rois(self, index: int) -> list[Roi]:
        """The annotated lesions of sample ``index`` from ``AllXML/<file>.xml`` ([] if none).

        Raises
        ------
        DataFormatError
            The XML file is not an OsiriX ROI plist or a point string is garbled.
        """
        record = self.records[self._index(index)]
        path = self.root / "AllXML" / f"{record.extra['file_id']}.xml"
        if not path.is_file():
            return []
        try:
            images = plistlib.loads(path.read_bytes())["Images"]
            return [Roi(str(roi["Name"]), _points(roi["Point_px"], path))
                    for image in images for roi in image.get("ROIs", [])]
        except (plistlib.InvalidFileException, xml.parsers.expat.ExpatError, KeyError,
                TypeError, ValueError) as err:
            raise DataFormatError(
                f"{path}: not an OsiriX ROI plist ({type(err).__name__}: {err}); expected "
                "a dict with Images -> ROIs -> Name and Point_px"
            ) from err


def _points(strings: list[str], path: Path) -> np.ndarray:
    points = []
    for text in strings:
        match = _POINT.match(str(text).strip())
        if match is None:
            raise DataFormatError(f"{path}: point {text!r} is not of the form '(x, y)'")
        points.append((float(match.group(1)), float(match.group(2))))
    return np.array(points, dtype=np.float64).reshape(-1, 2)

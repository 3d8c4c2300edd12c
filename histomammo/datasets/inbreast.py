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
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np

from histomammo.datasets._mammo_common import MammoDataset, MammoRecord, patient_split, read_table
from histomammo.datasets.birads import birads_category, follow_up, parse_birads
from histomammo.errors import DataFormatError, MissingFileError

__all__ = ["INbreast", "Roi"]

_REQUIRED = ("Laterality", "View", "File Name", "Bi-Rads")
_NAME = re.compile(r"^(\d+)_([0-9A-Za-z]+)_MG_([LR])_(CC|ML)_ANON\.dcm$")
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
    label : {"follow_up", "birads", "malignant"}
        ``"follow_up"``: the thesis's table 4.1 label (1 for BI-RADS 0, 4, 5, 6).
        ``"birads"``: the category 0..6 (4a..4c -> 4; the full score is in
        ``records[i].extra["birads"]``). ``"malignant"``: 1 for BI-RADS 4..6, 0 for 1..2,
        BI-RADS 3 handled by ``birads3`` -- the common convention in the INbreast
        literature, not the seeds' (the thesis uses follow-up).
    birads3 : {"exclude", "negative"}
        ``label="malignant"`` only: drop BI-RADS 3 images (default) or count them negative.
    transform : callable, optional
        Applied to the ``(1, H, W)`` float32 ``tv_tensors.Image``.
    split : {"train", "val", "test"}, optional
        Patient-grouped split by the patient hash in the file names
        (:func:`~histomammo.datasets._mammo_common.patient_split`, 80/10/10 by default).
    fractions : (float, float, float)
        Train / val / test fractions of patients.
    seed : int
        Seed of the split.

    Raises
    ------
    MissingFileError
        No ``INbreast.csv``, no ``AllDICOMs/``, or a file named in the table is absent.
    DataFormatError
        Missing columns, an unknown BI-RADS string, duplicate rows, a table row whose
        laterality or view disagrees with its file name.

    Examples
    --------
    >>> import tempfile
    >>> from histomammo.datasets.synthetic import make_inbreast
    >>> data = INbreast(make_inbreast(tempfile.mkdtemp(), n_patients=2, shape=(96, 80)))
    >>> image, target = data[0]
    >>> tuple(image.shape), image.dtype, target in (0, 1)
    ((1, 96, 80), torch.float32, True)
    >>> data.records[0].view in ("CC", "MLO")
    True
    """

    def __init__(
        self,
        root: str | Path,
        label: Literal["follow_up", "birads", "malignant"] = "follow_up",
        *,
        birads3: Literal["exclude", "negative"] = "exclude",
        transform: Callable[[Any], Any] | None = None,
        split: str | None = None,
        fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
        seed: int = 0,
    ) -> None:
        if label not in ("follow_up", "birads", "malignant"):
            raise ValueError(f"label must be 'follow_up', 'birads' or 'malignant', got {label!r}")
        if birads3 not in ("exclude", "negative"):
            raise ValueError(f"birads3 must be 'exclude' or 'negative', got {birads3!r}")
        self.root, self.label, self.transform = Path(root), label, transform
        records = [r for r in self._read_records(birads3) if r is not None]
        keep = patient_split([r.patient for r in records], split, fractions=fractions, seed=seed)
        self.records = [r for r, k in zip(records, keep, strict=True) if k]

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
        rows = read_table(table, _REQUIRED, delimiter=";", what="INbreast table")
        files, seen = self._files(), set()
        records = []
        for row in rows:
            where = f"{table}, row {row['__row__']}"
            file_id = row["File Name"]
            if file_id in seen:
                raise DataFormatError(f"{where}: duplicate row for File Name {file_id!r}; expected one row per image")
            seen.add(file_id)
            if file_id not in files:
                raise MissingFileError(
                    f"{where}: File Name {file_id!r} has no file {self.root / 'AllDICOMs'}/"
                    f"{file_id}_<patient>_MG_<L|R>_<CC|ML>_ANON.dcm"
                )
            path, match = files[file_id]
            view = "MLO" if match.group(4) == "ML" else "CC"
            if (row["Laterality"], row["View"]) != (match.group(3), view):
                raise DataFormatError(
                    f"{where}: table says {row['Laterality']} {row['View']} but the file "
                    f"{path.name} is {match.group(3)} {view}"
                )
            try:
                score = parse_birads(row["Bi-Rads"], source=where)
            except ValueError as err:
                raise DataFormatError(str(err)) from None
            target = self._target(score, birads3)
            extra = {"birads": score, "acr": row.get("ACR", ""),
                     "acquisition_date": row.get("Acquisition date", ""), "file_id": file_id}
            records.append(None if target is None else MammoRecord(
                path, match.group(2), match.group(3), view, target, extra))
        return records

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
        record = self.records[index]
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

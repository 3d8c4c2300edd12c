"""A screening archive in the thesis's iBOB setting: a DICOM tree plus a per-breast diagnosis table.

The thesis's archive (section 4.2) is private; this reader takes the general shape it
describes. The images: a folder tree of DICOM files, plain or gzipped (``.dcm.gz``, section
6.1.1), whose headers give patient, laterality, view and study date. The diagnoses: a CSV
table with one row per breast and screening round, columns ``patient_id``, ``laterality``
(``L``/``R``), ``diagnosis_date`` (rounded to 1 January, so only its year counts),
``birads_reader1``, ``birads_reader2`` and optionally ``birads_reader3`` (double reading,
a third reader on disagreement), ``outcome`` (``cancer`` / ``no cancer``) and optionally
``interval_cancer`` (``yes`` / ``no``).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from histomammo.datasets._contract import resolve_split
from histomammo.datasets._mammo_common import (
    SPLITS,
    MammoDataset,
    MammoRecord,
    check_pixels,
    read_table,
    split_names,
)
from histomammo.datasets._mammo_matching import Diagnosis, MatchReport, match_diagnoses
from histomammo.datasets.birads import follow_up
from histomammo.datasets.mammo_index import MammoIndex, _read_in_batches, _scan
from histomammo.errors import MissingFileError

__all__ = ["MatchReport", "ScreeningArchive"]

_REQUIRED = ("patient_id", "laterality", "diagnosis_date", "birads_reader1", "birads_reader2",
             "outcome")
_OUTCOMES = {"cancer": True, "no cancer": False, "1": True, "0": False, "yes": True, "no": False}
_FLAGS = {"yes": True, "no": False, "": False, "1": True, "0": False, "true": True, "false": False}


class ScreeningArchive(MammoDataset):
    """Screening mammograms labelled by matching a diagnosis table to the studies on disk.

    Each diagnosis (patient, breast, year) is matched to a study as thesis section 4.2.1
    describes (`match_diagnoses`: same year,
    else the next year; the most recent of several studies; unmatched rows discarded and
    counted in `report`), and every image of that breast in that study becomes a
    sample.

    Parameters
    ----------
    root : str or Path
        The DICOM folder tree.
    split : {"train", "val", "test"}, optional
        Patient-grouped split, deterministic by ``seed`` (``"valid"`` is an alias of
        ``"val"``); None (default) keeps every sample. The thesis says only that training
        used 80% of the images; the 80/10/10 split of patients is this library's choice.
    diagnoses_csv : str or Path
        The diagnosis table (module docstring); required.
    label : {"outcome", "follow_up"}
        ``"outcome"`` (default): 1 for cancer. Every result of the thesis (sensitivity
        = P(detected | cancer), tables 6.3 and 6.4) is measured against it.
        ``"follow_up"``: table 4.1's referral label from the readers: the third reader's
        BI-RADS when there is one, else the two readers' if they agree; two readers who
        disagree with no third reading count as a referral (this library's choice).
    include_interval : bool
        Keep interval cancers; section 4.2.1 leaves them out (the default).
    transforms, transform, target_transform : callable, optional
        As every dataset ([`ContractDataset`][histomammo.datasets._contract.ContractDataset]); the
        image is a ``(1, H, W)`` ``tv_tensors.Image``, the target an int.
    pixels : {"raw", "display"}
        ``"raw"`` (default): the stored integers (MONOCHROME1 mirrored within the stored
        range so dense tissue is bright); ``"display"``: float32 in [0, 1]
        (``MammoDataset``).
    strict : bool
        Raise on the first bad table row or unreadable header instead of skipping it.
    fractions : (float, float, float)
        Train / val / test fractions of patients.
    seed : int
        Seed of the split.
    index : MammoIndex or str or Path, optional
        Read the headers through this index (built or updated over ``root`` first) instead
        of reading every header again.
    workers : int, optional
        Header-reading processes (see
        [`MammoIndex.build`][histomammo.datasets.mammo_index.MammoIndex.build]).
    progress : bool
        Progress bar while reading headers.
    fallback_offset : int
        The "next year" of the matching rule, in years after the diagnosis year.

    Attributes
    ----------
    report : MatchReport
        Counts per matching rule, the unmatched diagnoses, excluded interval cancers.
    problems : list of Problem
        Table rows skipped (bad dates, sides, outcomes or BI-RADS, fewer than two readers,
        duplicates) and DICOM files skipped (unreadable headers, headers without patient,
        laterality or study date).

    Raises
    ------
    MissingFileError
        The diagnosis table or the DICOM tree is absent.
    DataFormatError
        Missing columns (at once); with ``strict=True`` the first bad row or header.

    Examples
    --------
    >>> import tempfile
    >>> from histomammo.datasets.synthetic import make_screening_archive
    >>> tree, table = make_screening_archive(tempfile.mkdtemp(), n_patients=5, shape=(64, 64))
    >>> archive = ScreeningArchive(tree, diagnoses_csv=table)
    >>> archive.report.next_year, archive.report.several_studies, archive.report.interval_excluded
    (4, 2, 1)
    >>> len(archive.report.unmatched)
    2
    """

    def __init__(
        self,
        root: str | Path,
        split: str | None = None,
        *,
        diagnoses_csv: str | Path,
        label: Literal["outcome", "follow_up"] = "outcome",
        include_interval: bool = False,
        transforms: Callable[[Any, Any], Any] | None = None,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
        pixels: Literal["raw", "display"] = "raw",
        strict: bool = False,
        fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
        seed: int = 0,
        index: MammoIndex | str | Path | None = None,
        workers: int | None = None,
        progress: bool = False,
        fallback_offset: int = 1,
    ) -> None:
        super().__init__(root, transforms=transforms, transform=transform,
                         target_transform=target_transform, strict=strict)
        if label not in ("outcome", "follow_up"):
            raise ValueError(f"label must be 'outcome' or 'follow_up', got {label!r}")
        self.split = None if split is None else resolve_split(split, SPLITS, dataset="ScreeningArchive")
        self.label, self.pixels = label, check_pixels(pixels)
        self.report = MatchReport()
        diagnoses = self._diagnoses(Path(diagnoses_csv))
        if not include_interval:
            self.report.interval_excluded = sum(d.interval for d in diagnoses)
            diagnoses = [d for d in diagnoses if not d.interval]
        images = self._images(index, workers, progress)
        studies: dict[tuple[str, str], list[datetime.date]] = {}
        for fields in images:
            studies.setdefault((fields["patient"], fields["laterality"]), []).append(fields["date"])
        matches = match_diagnoses(diagnoses, studies, self.report, fallback_offset=fallback_offset)
        chosen = {(d.patient, d.laterality, matches[i]): d for i, d in enumerate(diagnoses) if i in matches}
        records = []
        for fields in sorted(images, key=lambda f: f["path"]):
            diagnosis = chosen.get((fields["patient"], fields["laterality"], fields["date"]))
            if diagnosis is None:
                self.report.images_without_diagnosis += 1
                continue
            records.append(MammoRecord(
                Path(fields["path"]), fields["patient"], fields["laterality"], fields["view"] or "",
                self._target(diagnosis),
                {"study_date": fields["date"], "diagnosis_year": diagnosis.year,
                 "birads": diagnosis.birads, "cancer": diagnosis.cancer,
                 "interval": diagnosis.interval, "row": diagnosis.row}))
        names = split_names([r.patient for r in records], fractions, seed)
        self.records = self.keep_split(records, names)

    def _target(self, diagnosis: Diagnosis) -> int:
        if self.label == "outcome":
            return int(diagnosis.cancer)
        readings = diagnosis.birads
        if len(readings) > 2:
            return int(follow_up(readings[2]))
        first, second = (follow_up(score) for score in readings)
        return int(first or second)

    def _diagnoses(self, table: Path) -> list[Diagnosis]:
        rows = read_table(table, _REQUIRED, what="diagnosis table", problem=self.report_problem)
        seen: set[tuple[str, str, int]] = set()
        diagnoses = []
        for row in rows:
            diagnosis = self._diagnosis(table, row, seen)
            if diagnosis is not None:
                diagnoses.append(diagnosis)
        self.report.diagnoses = len(diagnoses)
        return diagnoses

    def _diagnosis(self, table: Path, row: dict[str, str],
                   seen: set[tuple[str, str, int]]) -> Diagnosis | None:
        """One row's diagnosis, or None after reporting the row as a problem."""
        number, where = int(row["__row__"]), f"{table}, row {row['__row__']}"
        try:
            year = datetime.date.fromisoformat(row["diagnosis_date"]).year
        except ValueError:
            self.report_problem(table, number, f"diagnosis_date {row['diagnosis_date']!r} is "
                                "not YYYY-MM-DD; skipped")
            return None
        side = row["laterality"].upper()[:1] if row["laterality"].upper() in ("L", "R", "LEFT", "RIGHT") else ""
        outcome = _OUTCOMES.get(row["outcome"].lower())
        interval = _FLAGS.get(row.get("interval_cancer", "").lower())
        if not side or outcome is None or interval is None:
            self.report_problem(table, number, f"laterality {row['laterality']!r}, outcome "
                                f"{row['outcome']!r}, interval_cancer {row.get('interval_cancer')!r}; "
                                "expected L/R, 'cancer'/'no cancer' and yes/no; skipped")
            return None
        readers = [row["birads_reader1"], row["birads_reader2"], row.get("birads_reader3", "")]
        scores = [self.row_birads(s, table, number) for s in readers if s != ""]
        if None in scores:
            return None
        birads = tuple(str(s) for s in scores)
        if len(birads) < 2:
            self.report_problem(table, number, "needs the BI-RADS of at least two readers; skipped")
            return None
        key = (row["patient_id"], side, year)
        if key in seen:
            self.report_problem(table, number, f"duplicate diagnosis for patient {key[0]}, side "
                                f"{side}, year {year}; skipped")
            return None
        seen.add(key)
        if len(birads) == 2 and follow_up(birads[0]) != follow_up(birads[1]):
            self.report.discordant_without_arbiter += 1
        return Diagnosis(key[0], side, year, birads, outcome, interval, where)

    def _images(self, index: MammoIndex | str | Path | None, workers: int | None,
                progress: bool) -> list[dict[str, Any]]:
        if index is not None:
            database = index if isinstance(index, MammoIndex) else MammoIndex(index)
            owned = database is not index
            try:
                built = database.build(self.root, workers=workers, progress=progress)
                for path, message in built.failed.items():
                    self.report_problem(path, None, f"{message}; file skipped")
                rows = [vars(row) | {"path": str(row.path)} for row in database.query()]
            finally:
                if owned:
                    database.close()
            rows = [r for r in rows if Path(r["path"]).is_relative_to(self.root.absolute())]
        else:
            if not self.root.is_dir():
                raise MissingFileError(f"{self.root}: folder not found; expected the DICOM tree")
            paths = sorted(path for path, _ in _scan(self.root))
            rows = []
            for batch in _read_in_batches(paths, workers, 512, progress):
                for path, fields, error in batch:
                    if fields is None:
                        self.report_problem(path, None, f"{error}; file skipped")
                    else:
                        rows.append(fields | {"path": path})
        return [checked for checked in map(self._checked, rows) if checked is not None]

    def _checked(self, row: dict[str, Any]) -> dict[str, Any] | None:
        date = row.get("study_date")
        if not row.get("patient") or row.get("laterality") not in ("L", "R") or not date:
            self.report_problem(
                row["path"], None, f"header has patient {row.get('patient')!r}, laterality "
                f"{row.get('laterality')!r}, study date {date!r}; expected a patient ID, L or R "
                "and a YYYYMMDD study date; file skipped")
            return None
        return row | {"date": datetime.date.fromisoformat(date), "path": os.fspath(row["path"])}

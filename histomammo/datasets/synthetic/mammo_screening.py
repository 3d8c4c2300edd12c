"""A synthetic screening archive (the thesis's iBOB setting): a DICOM tree and a diagnosis table."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from histomammo.datasets.synthetic.dicom import write_dicom
from histomammo.datasets.synthetic.mammo import _write_table, screening_mammogram

__all__ = ["DIAGNOSIS_COLUMNS", "make_screening_archive"]

DIAGNOSIS_COLUMNS = (
    "patient_id", "laterality", "diagnosis_date", "birads_reader1", "birads_reader2",
    "birads_reader3", "outcome", "interval_cancer",
)

# Per patient (cycled): the study dates, and per diagnosis year which case it exercises.
#   "same": a study that year; "next": the study falls in the following year;
#   "retake": two studies that year (the later one is matched); "none": no study (unmatched);
#   "interval": an interval cancer of the left breast, found between two rounds.
_SCENARIOS = (
    (("20130312", "20150320"), {2013: "same", 2015: "same"}),
    (("20140118", "20160105"), {2013: "next", 2015: "next"}),
    (("20130610", "20130704", "20150602"), {2013: "retake", 2015: "same"}),
    (("20140402",), {2014: "same", 2011: "none"}),
    (("20130905", "20150910"), {2013: "same", 2014: "interval"}),
)


def make_screening_archive(
    root: str | os.PathLike[str],
    *,
    n_patients: int = 15,
    shape: tuple[int, int] = (128, 104),
    seed: int = 0,
    cancer_fraction: float = 0.35,
) -> tuple[Path, Path]:
    """Write a screening archive: ``dicoms/<patient>/<date>/*.dcm[.gz]`` and ``diagnoses.csv``.

    The DICOMs mix what a national archive holds: MONOCHROME1 (stored inverted) and
    MONOCHROME2, 12- and 14-bit, every third study gzipped (``.dcm.gz``, as the thesis
    stored its archive, section 6.1.1), a grey marker on some images; each study has CC
    and MLO views of both breasts, six-digit patient IDs. ``diagnoses.csv`` has one row per
    breast and screening round: the patient, the laterality, the diagnosis date rounded to
    1 January, the BI-RADS of two readers (and a third when they disagree on referral),
    the outcome (``cancer`` or ``no cancer``) and whether it was an interval cancer. Cancer
    breasts show a spiculated mass in the matched study; readers miss some of them and
    refer some healthy breasts. The rows exercise every matching rule of thesis section
    4.2.1: a study in the diagnosis year, a study only in the next year, two studies in one
    year (a retake), diagnoses with no study (unmatched), and interval cancers.

    Parameters
    ----------
    root : str or os.PathLike
        Output folder.
    n_patients : int
        Number of patients (at least 5, one per scenario).
    shape : (int, int)
        Image ``(H, W)``.
    seed : int
        Seed of every random draw.
    cancer_fraction : float
        Probability that a matched diagnosis is a (screen-detected or missed) cancer.

    Returns
    -------
    (pathlib.Path, pathlib.Path)
        The DICOM tree's root and the diagnosis table.

    Examples
    --------
    >>> import tempfile
    >>> tree, table = make_screening_archive(tempfile.mkdtemp(), n_patients=5, shape=(64, 64))
    >>> table.read_text().splitlines()[0]
    'patient_id,laterality,diagnosis_date,birads_reader1,birads_reader2,birads_reader3,outcome,interval_cancer'
    >>> len(list(tree.rglob("*.dcm"))) + len(list(tree.rglob("*.dcm.gz")))
    40
    """
    if n_patients < len(_SCENARIOS):
        raise ValueError(f"n_patients must be >= {len(_SCENARIOS)}, got {n_patients}")
    root = Path(root)
    tree = root / "dicoms"
    rng = np.random.default_rng(seed)
    rows: list[list[str]] = []
    for number in range(n_patients):
        patient = f"{100000 + 7919 * number % 900000:06d}"
        studies, diagnoses = _SCENARIOS[number % len(_SCENARIOS)]
        cancers = _draw_cancers(rng, diagnoses, cancer_fraction)
        for index, date in enumerate(studies):
            year = int(date[:4])
            diagnosis_year = next((y for y, case in diagnoses.items() if y == year or
                                   (case in ("next", "interval") and y + 1 == year)), None)
            sick = None if diagnosis_year is None else cancers.get(diagnosis_year)
            _write_study(tree, rng, patient, date, shape, sick,
                         compressed=(number + index) % 3 == 0)
        for year, case in diagnoses.items():
            if case == "interval":  # the left breast only; readers saw nothing the round before
                rows.append([patient, "L", f"{year}-01-01", "1", "1", "", "cancer", "yes"])
                continue
            for side in ("L", "R"):
                rows.append(_diagnosis_row(rng, patient, side, year, cancers.get(year) == side))
    _write_table(root / "diagnoses.csv", DIAGNOSIS_COLUMNS, rows)
    return tree, root / "diagnoses.csv"


def _draw_cancers(rng: np.random.Generator, diagnoses: dict[int, str], fraction: float) -> dict[int, str]:
    """``{diagnosis year: side with cancer}`` for the rounds that have a study."""
    cancers = {year: str(rng.choice(["L", "R"])) for year, case in diagnoses.items()
               if case not in ("none", "interval") and rng.random() < fraction}
    cancers.update({year: "L" for year, case in diagnoses.items() if case == "interval"})
    return cancers


def _write_study(
    tree: Path, rng: np.random.Generator, patient: str, date: str, shape: tuple[int, int],
    sick_side: str | None, compressed: bool,
) -> None:
    folder = tree / patient / date
    folder.mkdir(parents=True, exist_ok=True)
    photometric = str(rng.choice(["MONOCHROME1", "MONOCHROME2"]))
    bits = int(rng.choice([12, 14]))
    for side in ("L", "R"):
        for view in ("CC", "MLO"):
            case = screening_mammogram(shape, rng, laterality=side, view=view, bits_stored=bits,
                                       malignant=side == sick_side, grey_marker=rng.random() < 0.3)
            pixels = case.pixels
            if photometric == "MONOCHROME1":
                pixels = (2**bits - 1 - pixels).astype(np.uint16)
            name = f"{patient}_{date}_{side}_{view}.dcm" + (".gz" if compressed else "")
            write_dicom(folder / name, pixels, photometric=photometric, bits_stored=bits,
                        laterality=side, view=view, patient_id=patient, study_date=date,
                        manufacturer=str(rng.choice(["HOLOGIC", "SIEMENS", "GE"])), gzip=compressed)


def _diagnosis_row(
    rng: np.random.Generator, patient: str, side: str, year: int, cancer: bool
) -> list[str]:
    """Two readers' BI-RADS (a third on disagreement about referral) and the outcome."""
    if cancer:
        first = str(rng.choice(["4", "5", "0", "1"], p=[0.4, 0.3, 0.1, 0.2]))  # some missed
    else:
        first = str(rng.choice(["1", "2", "3", "0", "4"], p=[0.7, 0.12, 0.06, 0.06, 0.06]))
    second = first if rng.random() < 0.8 else str(rng.choice(["1", "2", "4"]))
    refer = {"0", "4", "5"}
    third = str(rng.choice(["1", "4"])) if (first in refer) != (second in refer) else ""
    return [patient, side, f"{year}-01-01", first, second, third,
            "cancer" if cancer else "no cancer", "no"]

"""A synthetic INbreast tree: ``AllDICOMs/``, ``AllXML/`` (OsiriX ROIs) and ``INbreast.csv``."""

from __future__ import annotations

import os
import plistlib
from pathlib import Path
from typing import Any

import numpy as np
from skimage import measure

from histomammo._atomic import atomic_write
from histomammo.datasets.synthetic.dicom import write_dicom
from histomammo.datasets.synthetic.mammo import (
    SyntheticMammogram,
    _write_table,
    screening_mammogram,
)

__all__ = ["INBREAST_COLUMNS", "make_inbreast"]

INBREAST_COLUMNS = (
    "Patient ID", "Patient age", "Laterality", "View", "Acquisition date", "File Name", "ACR",
    "Bi-Rads",
)
_MALIGNANT_SCORES = ("4a", "4b", "4c", "5", "6")
_NORMAL_SCORES = ("1", "2", "2", "3")


def make_inbreast(
    root: str | os.PathLike[str],
    *,
    n_patients: int = 10,
    shape: tuple[int, int] = (256, 208),
    seed: int = 0,
    malignant_fraction: float = 0.4,
    anatomy: str | None = None,
    quirks: bool = True,
) -> Path:
    """Write a small INbreast tree in the exact layout of the public release.

    ``AllDICOMs/<file>_<patient hash>_MG_<L|R>_<CC|ML>_ANON.dcm`` (14-bit MONOCHROME2,
    as the Siemens scanner wrote them; the MLO view is ``ML`` in the name but ``MLO`` in
    the table), ``INbreast.csv`` (semicolon separated, the release's eight columns, patient
    ID and age ``removed``, some ACR cells blank and some BI-RADS cells padded with
    spaces) and ``AllXML/<file>.xml`` (OsiriX plists: a ``Mass`` polygon around each mass,
    a one-point ``Calcification`` ROI per calcification). Every patient has both views of
    each breast imaged (every fifth patient one breast only); in a malignant breast both
    views show the mass and its BI-RADS is 4a..6, otherwise 1..3. INbreast has BI-RADS 6
    but no 0 (thesis section 4.3).

    The release's quirk is written by default: one table row (the last MLO image, as
    File Name 50994300 of the release) gives the View ``FB`` while its file name says
    ``ML``.

    Parameters
    ----------
    root : str or os.PathLike
        Output folder, created if needed.
    n_patients : int
        Number of patients (at least 1).
    shape : (int, int)
        Image ``(H, W)``; the real images are 4084x3328 or 3328x2560.
    seed : int
        Seed of every random draw.
    malignant_fraction : float
        Fraction of patients with one malignant breast.
    anatomy : {"CC", "MLO"}, optional
        Draw every image with this view's anatomy (the header, file name, table and
        burned-in marker still give each image's own view): ``"CC"`` leaves the marker as
        the only view cue, the control of the marker ablation. Default: each view's own.
    quirks : bool
        Write the release's ``FB`` row (above); False writes CC and MLO only.

    Returns
    -------
    pathlib.Path
        ``root``.

    Examples
    --------
    >>> import tempfile
    >>> root = make_inbreast(tempfile.mkdtemp(), n_patients=2, shape=(96, 80))
    >>> sorted(p.name for p in root.iterdir())
    ['AllDICOMs', 'AllXML', 'INbreast.csv']
    >>> next((root / "AllDICOMs").glob("*_MG_*_ML_ANON.dcm")).name.count("_")
    5
    """
    if n_patients < 1:
        raise ValueError(f"n_patients must be >= 1, got {n_patients}")
    root = Path(root)
    (root / "AllDICOMs").mkdir(parents=True, exist_ok=True)
    (root / "AllXML").mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    rows: list[list[str]] = []
    file_ids = rng.choice(np.arange(20_000_000, 54_000_000), size=4 * n_patients, replace=False)
    for patient in range(n_patients):
        hash_ = "".join(rng.choice(list("0123456789abcdef"), 16))
        date = f"20{rng.integers(8, 11):02d}{rng.integers(1, 13):02d}"
        sick_side = rng.choice(["L", "R"]) if rng.random() < malignant_fraction else None
        sides = ["L", "R"] if patient % 5 != 4 else [sick_side or "L"]
        for side in sides:
            malignant = side == sick_side
            score = rng.choice(_MALIGNANT_SCORES if malignant else _NORMAL_SCORES)
            for view in ("CC", "MLO"):
                file_id = str(file_ids[len(rows)])
                case = screening_mammogram(shape, rng, laterality=side, view=view,
                                           bits_stored=14, malignant=malignant,
                                           anatomy=anatomy)
                name = f"{file_id}_{hash_}_MG_{side}_{'ML' if view == 'MLO' else 'CC'}_ANON.dcm"
                write_dicom(root / "AllDICOMs" / name, case.pixels, bits_stored=14,
                            laterality=side, view=view, patient_id=hash_,
                            study_date=date + "01", manufacturer="SIEMENS")
                _write_xml(root / "AllXML" / f"{file_id}.xml", case)
                acr = "" if rng.random() < 0.15 else str(rng.integers(1, 5))
                padded = f" {score} " if rng.random() < 0.3 else str(score)
                rows.append(["removed", "removed", side, view, date, file_id, acr, padded])
    if quirks:
        last_mlo = max(i for i, row in enumerate(rows) if row[3] == "MLO")
        rows[last_mlo][3] = "FB"
    _write_table(root / "INbreast.csv", INBREAST_COLUMNS, rows, delimiter=";")
    return root


def _point(x: float, y: float) -> str:
    return f"({x:.6f}, {y:.6f})"


def _roi(index: int, name: str, points: np.ndarray, spacing: float = 0.07) -> dict[str, Any]:
    centre = points.mean(axis=0)
    return {
        "Area": float(len(points)), "Center": f"({centre[0]:.6f}, {centre[1]:.6f}, 0.000000)",
        "Dev": 0.0, "IndexInImage": index, "Max": 0.0, "Mean": 0.0, "Min": 0.0, "Name": name,
        "NumberOfPoints": len(points),
        "Point_mm": [_point(x * spacing, y * spacing) for x, y in points],
        "Point_px": [_point(x, y) for x, y in points], "Total": 0.0,
        "Type": 19 if len(points) == 1 else 15,
    }


def _write_xml(path: Path, case: SyntheticMammogram) -> None:
    rois = [_roi(k, "Calcification", np.array([c])) for k, c in enumerate(case.calcifications)]
    if case.mass_mask.any():
        contour = max(measure.find_contours(case.mass_mask.astype(np.uint8), 0.5), key=len)
        rois.append(_roi(len(rois), "Mass", contour[::2, ::-1]))  # (row, col) -> (x, y)
    height, width = case.pixels.shape
    image = {"ImageHeight": height, "ImageIndex": 0, "ImageWidth": width,
             "NumberOfROIs": len(rois), "ROIs": rois}
    with atomic_write(path, "wb") as handle:
        handle.write(plistlib.dumps({"Images": [image]}, fmt=plistlib.FMT_XML))

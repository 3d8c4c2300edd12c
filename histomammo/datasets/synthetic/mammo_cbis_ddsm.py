"""A synthetic CBIS-DDSM tree: the four case-description CSVs and the TCIA download's folders."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from pydicom.uid import generate_uid

from histomammo.datasets.synthetic.dicom import write_dicom
from histomammo.datasets.synthetic.mammo import _write_table, screening_mammogram

__all__ = ["CALC_COLUMNS", "MASS_COLUMNS", "make_cbis_ddsm"]

_PATHS = ("image file path", "cropped image file path", "ROI mask file path")
MASS_COLUMNS = (
    "patient_id", "breast_density", "left or right breast", "image view", "abnormality id",
    "abnormality type", "mass shape", "mass margins", "assessment", "pathology", "subtlety",
    *_PATHS,
)
# The calcification tables spell the density column with a space, the mass tables with '_'.
CALC_COLUMNS = (
    "patient_id", "breast density", "left or right breast", "image view", "abnormality id",
    "abnormality type", "calc type", "calc distribution", "assessment", "pathology", "subtlety",
    *_PATHS,
)
_SIDE = {"L": "LEFT", "R": "RIGHT"}


def make_cbis_ddsm(
    root: str | os.PathLike[str],
    *,
    n_patients: int = 12,
    shape: tuple[int, int] = (256, 160),
    seed: int = 0,
    test_fraction: float = 0.25,
    quirks: bool = True,
) -> Path:
    """Write a small CBIS-DDSM tree as the public (TCIA) download lays it out.

    ``{mass,calc}_case_description_{train,test}_set.csv`` with the release's exact headers
    (``breast_density`` in the mass tables, ``breast density`` in the calcification ones),
    one row per abnormality, whose ``image file path`` / ``cropped image file path`` /
    ``ROI mask file path`` give the original ``<folder>/<study UID>/<series UID>/00000N.dcm``.
    The files themselves sit where the download puts them, under renamed folders and
    files: ``CBIS-DDSM/Mass-Training_P_00001_LEFT_CC/07-20-2016-DDSM-NNNNN/1.000000-full
    mammogram images-NNNNN/1-1.dcm`` and, per abnormality, ``..._LEFT_CC_1/.../1.000000-ROI
    mask images-NNNNN/1-1.dcm`` and ``1-2.dcm`` (the binary mask, full size, and the
    cropped lesion); the DICOM headers carry the CSV's UIDs. Malignant masses are bright
    and spiculated; calcification cases get a cluster of bright dots (dense when
    malignant). Some mammograms have both a mass and a calcification record (separate
    copies in ``Mass-`` and ``Calc-`` folders, as in the release). The real scans are
    16-bit digitised film; these are 12-bit MONOCHROME2.

    With ``quirks=True`` (default) every quirk of the real release is written:

    - in every fourth patient's rows the cropped image and the ROI mask lie in different
      series (each ``000000.dcm`` in the CSV), as in 104 rows of the release;
    - every fifth patient's first ROI mask is three rows short of its mammogram (as the
      release's Mass-Test P_00145 and others);
    - ``breast density`` 0 in two calc-test rows and ``subtlety`` 0 in two mass-train rows;
    - the mass tables number the crop ``000000`` and the ROI mask ``000001``, the
      calcification tables the reverse;
    - every ROI mask path cell ends in a line break inside its quotes, and the tables have
      CRLF line ends;
    - the download's two folder namings: even patients under the original UID folders
      with TCIA's ``1-1.dcm`` / ``1-2.dcm`` file names, odd patients under descriptive
      folder names.

    ``quirks=False`` writes one layout (descriptive folders), crop and mask in one series
    in random order, sizes that agree, LF line ends and no zero density or subtlety.

    Parameters
    ----------
    root : str or os.PathLike
        Output folder.
    n_patients : int
        Number of patients, at least 2 (one test patient).
    shape : (int, int)
        Image ``(H, W)``.
    seed : int
        Seed of every random draw.
    test_fraction : float
        Fraction of patients in the test tables.
    quirks : bool
        Write the real release's quirks (above).

    Returns
    -------
    pathlib.Path
        ``root``.

    Examples
    --------
    >>> import tempfile
    >>> root = make_cbis_ddsm(tempfile.mkdtemp(), n_patients=2, shape=(96, 64))
    >>> sorted(p.name for p in root.glob("*.csv"))[:2]
    ['calc_case_description_test_set.csv', 'calc_case_description_train_set.csv']
    >>> b"\\r\\n" in (root / "mass_case_description_train_set.csv").read_bytes()
    True
    """
    if n_patients < 2:
        raise ValueError(f"n_patients must be >= 2, got {n_patients}")
    root = Path(root)
    (root / "CBIS-DDSM").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    tables: dict[tuple[str, str], list[list[str]]] = {
        (kind, split): [] for kind in ("mass", "calc") for split in ("train", "test")
    }
    n_test = max(1, int(round(test_fraction * n_patients)))
    for number in range(1, n_patients + 1):
        patient = f"P_{number:05d}"
        split = "test" if number > n_patients - n_test else "train"
        side, malignant = rng.choice(["L", "R"]), bool(number % 2)
        kinds = ["mass", "calc"] if number % 3 == 0 else [["mass", "calc"][number % 2]]
        layout = _Layout(quirks, number)
        for view in ("CC", "MLO"):
            for kind in kinds:
                rows = _write_image(root, rng, patient, side, view, kind, split, malignant,
                                    shape, layout)
                tables[kind, split].extend(rows)
    if quirks:
        _zero_cells(tables["calc", "test"], CALC_COLUMNS.index("breast density"))
        _zero_cells(tables["mass", "train"], MASS_COLUMNS.index("subtlety"))
    for (kind, split), rows in tables.items():
        columns = MASS_COLUMNS if kind == "mass" else CALC_COLUMNS
        _write_table(root / f"{kind}_case_description_{split}_set.csv", columns, rows,
                     line_end="\r\n" if quirks else "\n")
    return root


class _Layout:
    """Which quirks one patient's files get (see [`make_cbis_ddsm`][histomammo.datasets.synthetic.make_cbis_ddsm])."""

    def __init__(self, quirks: bool, number: int) -> None:
        self.quirks = quirks
        self.uid_folders = quirks and number % 2 == 0
        self.separate_crop = quirks and number % 4 == 2
        self.short_mask = quirks and number % 5 == 3


def _zero_cells(rows: list[list[str]], column: int, count: int = 2) -> None:
    for row in rows[:count]:
        row[column] = "0"


def _write_image(
    root: Path, rng: np.random.Generator, patient: str, side: str, view: str, kind: str,
    split: str, malignant: bool, shape: tuple[int, int], layout: _Layout,
) -> list[list[str]]:
    """One full mammogram with its abnormalities, their ROI masks and crops; the CSV rows.

    A malignant mammogram of every other patient also has a second, benign abnormality, so
    that one image-level label summarises several rows.
    """
    folder = f"{'Mass' if kind == 'mass' else 'Calc'}-{'Training' if split == 'train' else 'Test'}_{patient}_{_SIDE[side]}_{view}"
    case = screening_mammogram(shape, rng, laterality=side, view=view,
                               malignant=malignant and kind == "mass")
    pixels = case.pixels
    findings = [(case.mass_mask if kind == "mass" and malignant else None, malignant)]
    if malignant and int(patient[2:]) % 4 == 1:
        findings.append((None, False))
    masks = [_calcification_cluster(pixels, case.breast_mask, rng, dense=bad) if mask is None
             else mask for mask, bad in findings]
    full = _write_series(root, folder, "full mammogram images", side, view, [pixels], layout)[0]
    rows = []
    for number, (mask, (_, bad)) in enumerate(zip(masks, findings, strict=True), start=1):
        short = layout.short_mask and number == 1
        mask_path, crop_path = _write_roi(root, f"{folder}_{number}", side, view, pixels, mask,
                                          rng, kind, layout, short)
        pathology = "MALIGNANT" if bad else rng.choice(["BENIGN", "BENIGN_WITHOUT_CALLBACK"])
        assessment = str(rng.integers(4, 6) if bad else rng.integers(2, 4))
        described = ["IRREGULAR", "SPICULATED"] if kind == "mass" else ["PLEOMORPHIC", "CLUSTERED"]
        rows.append([patient, str(rng.integers(1, 5)), _SIDE[side], view, str(number),
                     "mass" if kind == "mass" else "calcification", *described, assessment,
                     str(pathology), str(rng.integers(1, 6)), full, crop_path, mask_path + "\n"])
    return rows


def _write_roi(
    root: Path, folder: str, side: str, view: str, pixels: np.ndarray, mask: np.ndarray,
    rng: np.random.Generator, kind: str, layout: _Layout, short: bool,
) -> tuple[str, str]:
    """The binary mask and the cropped lesion; their CSV paths ``(mask, crop)``.

    In one series (mass tables: crop first, calc tables: mask first; without quirks in
    random order), or each in its own series.
    """
    rows_, cols_ = np.nonzero(mask)
    crop = pixels[rows_.min() : rows_.max() + 1, cols_.min() : cols_.max() + 1]
    binary = mask.astype(np.uint16) * 255
    binary = binary[:-3] if short else binary
    if layout.separate_crop:
        crop_path = _write_series(root, folder, "cropped images", side, view, [crop], layout)[0]
        mask_path = _write_series(root, folder, "ROI mask images", side, view, [binary], layout)[0]
        return mask_path, crop_path
    pair = [binary, crop]
    if layout.quirks:
        order = [1, 0] if kind == "mass" else [0, 1]
    else:
        order = [0, 1] if rng.random() < 0.5 else [1, 0]
    paths = _write_series(root, folder, "ROI mask images", side, view, [pair[i] for i in order],
                          layout)
    return paths[order.index(0)], paths[order.index(1)]


def _calcification_cluster(
    pixels: np.ndarray, breast: np.ndarray, rng: np.random.Generator, dense: bool
) -> np.ndarray:
    """Bright dots in a small region of the breast (written into ``pixels``); its mask."""
    height, width = pixels.shape
    radius = max(4, int(0.05 * width))
    inside = np.argwhere(breast[radius:-radius, radius:-radius]) + radius
    row, col = inside[rng.integers(len(inside))]
    mask = np.zeros(pixels.shape, bool)
    mask[row - radius : row + radius, col - radius : col + radius] = True
    bright = int(0.97 * (2**12 - 1))
    for _ in range(15 if dense else 4):
        r, c = row + rng.integers(-radius + 1, radius - 1), col + rng.integers(-radius + 1, radius - 1)
        pixels[r : r + 2, c : c + 2] = bright
    return mask


def _write_series(
    root: Path, folder: str, description: str, side: str, view: str, images: list[np.ndarray],
    layout: _Layout,
) -> list[str]:
    """Write ``images`` as one series as the download names it; their CSV-style paths."""
    study = generate_uid(entropy_srcs=[folder, "study"])
    series = generate_uid(entropy_srcs=[folder, description])
    tag = int(series.replace(".", "")[-5:])
    if layout.uid_folders:
        directory = root / "CBIS-DDSM" / folder / study / series
    else:
        directory = root / "CBIS-DDSM" / folder / f"07-20-2016-DDSM-{tag:05d}" / f"1.000000-{description}-{tag:05d}"
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, image in enumerate(images):
        write_dicom(directory / f"1-{number + 1}.dcm", image, laterality=side, view=view,
                    patient_id=folder, study_date="20160720", manufacturer="DDSM",
                    StudyInstanceUID=study, SeriesInstanceUID=series, InstanceNumber=number + 1)
        paths.append(f"{folder}/{study}/{series}/{number:06d}.dcm")
    return paths

"""Tests of histomammo.datasets.cbis_ddsm against a synthetic CBIS-DDSM tree, and bad input."""

from __future__ import annotations

import csv
import pickle
import shutil

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader
from torchvision.transforms import v2

from histomammo.datasets.cbis_ddsm import CBISDDSM
from histomammo.datasets.synthetic import make_cbis_ddsm
from histomammo.datasets.synthetic.mammo_cbis_ddsm import CALC_COLUMNS, MASS_COLUMNS
from histomammo.errors import DataFormatError, MissingFileError
from histomammo.io.dicom import read_dicom


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return make_cbis_ddsm(tmp_path_factory.mktemp("cbis"), n_patients=12, shape=(128, 96), seed=2)


@pytest.fixture
def copy(root, tmp_path):
    return shutil.copytree(root, tmp_path / "cbis")


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


def test_layout(root):
    assert tuple(_rows(root / "mass_case_description_train_set.csv")[0]) == MASS_COLUMNS
    assert tuple(_rows(root / "calc_case_description_test_set.csv")[0]) == CALC_COLUMNS
    assert "breast_density" in MASS_COLUMNS and "breast density" in CALC_COLUMNS
    row = _rows(root / "mass_case_description_train_set.csv")[1]
    literal = row[MASS_COLUMNS.index("image file path")]
    assert literal.startswith("Mass-Training_P_") and literal.endswith("/000000.dcm")
    assert not (root / "CBIS-DDSM" / literal).exists()  # renamed by the download
    assert list((root / "CBIS-DDSM").glob("Mass-Training_*/*/1.000000-full mammogram images-*/1-1.dcm"))


@pytest.mark.parametrize("abnormality", ["mass", "calc", "both"])
def test_smoke_labels_and_masks(root, abnormality):
    train = CBISDDSM(root, "train", abnormality=abnormality)
    test = CBISDDSM(root, "test", abnormality=abnormality)
    assert len(train) > 0 and len(test) > 0
    assert not {r.patient for r in train.records} & {r.patient for r in test.records}
    image, target = train[0]
    assert tuple(image.shape) == (1, 128, 96) and target in (0, 1)
    assert image.dtype == torch.int32
    for index, record in enumerate(train.records):
        pathologies = [a["pathology"] for a in record.extra["abnormalities"]]
        assert record.label == int("MALIGNANT" in pathologies)
        masks = train.roi_masks(index)
        for mask, item in zip(masks, record.extra["abnormalities"], strict=True):
            assert mask.shape == item["roi_mask_shape"] and mask.any()
            crop = read_dicom(item["cropped"], raw=True).pixels
            assert crop.shape[0] < 128 and not np.isin(crop, (0, 255)).all()
        info = train.sample_info(index)
        assert info["file"] == str(record.path) and info["split"] == "train"
    assert set(train.labels) == {0, 1}
    assert all(p.message.endswith("kept as stored, flagged") for p in train.problems)


def test_crop_and_mask_in_different_series(root):
    """104 rows of the release: the crop's own series (both files 000000.dcm in the CSV)."""
    rows = _rows(root / "mass_case_description_train_set.csv")[1:]
    crop_col, mask_col = MASS_COLUMNS.index("cropped image file path"), MASS_COLUMNS.index("ROI mask file path")
    separate = [r for r in rows if r[crop_col].split("/")[-2] != r[mask_col].strip().split("/")[-2]]
    assert separate and all(r[crop_col].endswith("000000.dcm") and r[mask_col].strip().endswith(
        "000000.dcm") for r in separate)
    data = CBISDDSM(root, "train")
    found = 0
    for record in data.records:
        for item in record.extra["abnormalities"]:
            assert item["cropped"] is not None and item["cropped"] != item["roi_mask"]
            found += item["cropped"].parent != item["roi_mask"].parent
    assert found > 0


def test_mis_sized_roi_mask_flagged_and_kept(root):
    data = CBISDDSM(root, "train", abnormality="both")
    short = [(i, item) for i, r in enumerate(data.records) for item in r.extra["abnormalities"]
             if item["roi_mask_shape"] != (128, 96)]
    assert short and all(item["roi_mask_shape"] == (125, 96) for _, item in short)
    flagged = [p for p in data.problems if "ROI mask" in p.message]
    assert len(flagged) == len(short) and all(p.file.endswith(".csv") and p.row for p in flagged)
    index, item = short[0]
    assert any(mask.shape == (125, 96) for mask in data.roi_masks(index))
    with pytest.raises(DataFormatError, match="ROI mask"):
        CBISDDSM(root, "train", abnormality="both", strict=True)


def test_zero_density_and_subtlety_rows(root):
    calc = _rows(root / "calc_case_description_test_set.csv")
    mass = _rows(root / "mass_case_description_train_set.csv")
    assert [r[CALC_COLUMNS.index("breast density")] for r in calc[1:]].count("0") == 2
    assert [r[MASS_COLUMNS.index("subtlety")] for r in mass[1:]].count("0") == 2
    test = CBISDDSM(root, "test", abnormality="calc")
    assert "0" in {r.extra["breast_density"] for r in test.records}
    train = CBISDDSM(root, "train")
    assert "0" in {a["subtlety"] for r in train.records for a in r.extra["abnormalities"]}


def test_numbering_newlines_line_ends_and_folder_namings(root):
    raw = (root / "mass_case_description_train_set.csv").read_bytes()
    assert raw.count(b"\r\n") >= len(_rows(root / "mass_case_description_train_set.csv"))
    assert b'.dcm\n"' in raw  # the ROI path cell's embedded line break
    for kind, crop_first in (("mass", True), ("calc", False)):
        columns = MASS_COLUMNS if kind == "mass" else CALC_COLUMNS
        rows = _rows(root / f"{kind}_case_description_train_set.csv")[1:]
        same = [r for r in rows if r[columns.index("cropped image file path")].split("/")[-2]
                == r[columns.index("ROI mask file path")].strip().split("/")[-2]]
        assert same and all(r[columns.index("cropped image file path")].endswith(
            "000000.dcm" if crop_first else "000001.dcm") for r in same)
    files = list((root / "CBIS-DDSM").rglob("*.dcm"))
    assert any(" " not in p.parent.name and p.parent.name.count(".") > 5 for p in files)
    assert any("full mammogram images" in str(p) for p in files)
    assert {p.name for p in files} == {"1-1.dcm", "1-2.dcm"}
    data = CBISDDSM(root, "train", abnormality="both")
    layouts = {"DDSM" in r.path.parent.parent.name for r in data.records}
    assert layouts == {True, False}  # both namings read


def test_val_split(root):
    train, val = CBISDDSM(root, "train", val_fraction=0.3), CBISDDSM(root, "valid", val_fraction=0.3)
    assert len(val) > 0 and not {r.patient for r in train.records} & {r.patient for r in val.records}
    assert len(train) + len(val) == len(CBISDDSM(root, "train"))
    with pytest.raises(ValueError, match="val_fraction"):
        CBISDDSM(root, "val")


def _rewrite(path, edit):
    rows = _rows(path)
    edit(rows)
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)


def test_missing_column(copy):
    path = copy / "calc_case_description_train_set.csv"
    _rewrite(path, lambda rows: rows[0].__setitem__(1, "breast_density"))  # the mass spelling
    with pytest.raises(DataFormatError, match="breast density"):
        CBISDDSM(copy, abnormality="calc")


def test_unknown_assessment_and_pathology(copy):
    path = copy / "mass_case_description_train_set.csv"
    total = len(CBISDDSM(copy))
    _rewrite(path, lambda rows: rows[1].__setitem__(MASS_COLUMNS.index("assessment"), "4d"))
    with pytest.raises(DataFormatError, match=r"row 2.*'4d'"):
        CBISDDSM(copy, strict=True)
    assert any(p.row == 2 and "'4d'" in p.message for p in CBISDDSM(copy).problems)
    _rewrite(path, lambda rows: rows[1].__setitem__(MASS_COLUMNS.index("assessment"), "4"))
    _rewrite(path, lambda rows: rows[1].__setitem__(MASS_COLUMNS.index("pathology"), "MALIGN"))
    with pytest.raises(DataFormatError, match="MALIGN"):
        CBISDDSM(copy, strict=True)
    assert len(CBISDDSM(copy)) >= total - 1


def test_duplicate_row(copy):
    path = copy / "mass_case_description_train_set.csv"
    _rewrite(path, lambda rows: rows.append(rows[1]))
    with pytest.raises(DataFormatError, match="duplicate row"):
        CBISDDSM(copy, strict=True)
    assert any("duplicate row" in p.message for p in CBISDDSM(copy).problems)


def test_absent_and_truncated_files(copy):
    data = CBISDDSM(copy)
    victim = data.records[0].path
    victim.write_bytes(victim.read_bytes()[:100])
    with pytest.raises(DataFormatError, match=victim.name):
        CBISDDSM(copy, strict=True)
    lenient = CBISDDSM(copy)
    assert len(lenient) == len(data) - 1
    assert any(str(victim) == p.file for p in lenient.problems)
    victim.unlink()
    with pytest.raises(MissingFileError, match="no DICOM of series"):
        CBISDDSM(copy, strict=True)
    shutil.rmtree(copy / "CBIS-DDSM" / data.records[0].extra["folder"])
    with pytest.raises(MissingFileError, match="image folder"):
        CBISDDSM(copy, strict=True)
    assert len(CBISDDSM(copy)) == len(data) - 1
    (copy / "mass_case_description_train_set.csv").unlink()
    with pytest.raises(MissingFileError, match="mass_case_description_train_set.csv"):
        CBISDDSM(copy)
    assert np.isfinite(data[1][0].numpy().astype(float)).all()


def test_pickle_workers_and_pixels(root):
    data = CBISDDSM(root, pixels="display", transform=v2.CenterCrop(64))
    loader = DataLoader(pickle.loads(pickle.dumps(data)), batch_size=2, num_workers=2,
                        multiprocessing_context="spawn")
    images, targets = next(iter(loader))
    assert images.dtype == torch.float32 and tuple(images.shape) == (2, 1, 64, 64)
    raw = CBISDDSM(root)
    assert np.array_equal(raw[-1][0][0].numpy(), read_dicom(raw.records[-1].path, raw=True).pixels)

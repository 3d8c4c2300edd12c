"""Tests of histomammo.datasets.cbis_ddsm against a synthetic CBIS-DDSM tree, and bad input."""

from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest

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
    train = CBISDDSM(root, abnormality, "train")
    test = CBISDDSM(root, abnormality, "test")
    assert len(train) > 0 and len(test) > 0
    assert not {r.patient for r in train.records} & {r.patient for r in test.records}
    image, target = train[0]
    assert tuple(image.shape) == (1, 128, 96) and target in (0, 1)
    for index, record in enumerate(train.records):
        pathologies = [a["pathology"] for a in record.extra["abnormalities"]]
        assert record.label == int("MALIGNANT" in pathologies)
        masks = train.roi_masks(index)
        assert all(m.shape == (128, 96) and m.any() for m in masks)
        for item in record.extra["abnormalities"]:
            crop = read_dicom(item["cropped"], raw=True).pixels
            assert crop.shape != (128, 96)
    assert set(train.labels) == {0, 1}


def test_one_label_for_several_abnormalities(root):
    data = CBISDDSM(root, "both", "train")
    several = [r for r in data.records if len(r.extra["abnormalities"]) > 1]
    assert several
    assert any({a["pathology"] for a in r.extra["abnormalities"]} > {"MALIGNANT"} for r in several)
    assert all(r.label == 1 for r in several if any(a["pathology"] == "MALIGNANT" for a in r.extra["abnormalities"]))
    keys = [(r.patient, r.laterality, r.view) for r in data.records]
    assert len(keys) == len(set(keys))


def _rewrite(path, edit):
    rows = _rows(path)
    edit(rows)
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)


def test_missing_column(copy):
    path = copy / "calc_case_description_train_set.csv"
    _rewrite(path, lambda rows: rows[0].__setitem__(1, "breast_density"))  # the mass spelling
    with pytest.raises(DataFormatError, match="breast density"):
        CBISDDSM(copy, "calc")


def test_unknown_assessment_and_pathology(copy):
    path = copy / "mass_case_description_train_set.csv"
    _rewrite(path, lambda rows: rows[1].__setitem__(MASS_COLUMNS.index("assessment"), "4d"))
    with pytest.raises(DataFormatError, match=r"row 2.*'4d'"):
        CBISDDSM(copy)
    _rewrite(path, lambda rows: rows[1].__setitem__(MASS_COLUMNS.index("assessment"), "4"))
    _rewrite(path, lambda rows: rows[1].__setitem__(MASS_COLUMNS.index("pathology"), "MALIGN"))
    with pytest.raises(DataFormatError, match="MALIGN"):
        CBISDDSM(copy)


def test_duplicate_row(copy):
    path = copy / "mass_case_description_train_set.csv"
    _rewrite(path, lambda rows: rows.append(rows[1]))
    with pytest.raises(DataFormatError, match="duplicate row"):
        CBISDDSM(copy)


def test_absent_and_truncated_files(copy):
    data = CBISDDSM(copy)
    victim = data.records[0].path
    victim.write_bytes(victim.read_bytes()[:100])
    with pytest.raises(DataFormatError, match=victim.name):
        CBISDDSM(copy)
    victim.unlink()
    with pytest.raises(MissingFileError, match="no DICOM of series"):
        CBISDDSM(copy)
    shutil.rmtree(copy / "CBIS-DDSM" / data.records[0].extra["folder"])
    with pytest.raises(MissingFileError, match="image folder"):
        CBISDDSM(copy)
    (copy / "mass_case_description_train_set.csv").unlink()
    with pytest.raises(MissingFileError, match="mass_case_description_train_set.csv"):
        CBISDDSM(copy)
    assert np.isfinite(data[1][0].numpy()).all()

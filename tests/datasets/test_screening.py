"""Tests of histomammo.datasets.screening: diagnosis matching (thesis 4.2.1), labels, bad input."""

from __future__ import annotations

import csv
import datetime
import pickle
import shutil

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from histomammo.datasets._mammo_matching import Diagnosis, MatchReport, match_diagnoses
from histomammo.datasets.mammo_index import MammoIndex
from histomammo.datasets.screening import ScreeningArchive
from histomammo.datasets.synthetic import make_screening_archive
from histomammo.errors import DataFormatError, MissingFileError
from histomammo.io.dicom import read_dicom


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return make_screening_archive(tmp_path_factory.mktemp("ibob"), n_patients=10, shape=(64, 64), seed=4)


@pytest.fixture
def copy(archive, tmp_path):
    tree, table = archive
    shutil.copytree(tree.parent, tmp_path / "ibob")
    return tmp_path / "ibob" / "dicoms", tmp_path / "ibob" / "diagnoses.csv"


def _d(patient, side, year, interval=False):
    return Diagnosis(patient, side, year, ("1", "1"), False, interval)


def test_matching_rules():
    date = datetime.date
    studies = {
        ("p1", "L"): [date(2013, 3, 1), date(2015, 3, 1)],
        ("p2", "L"): [date(2014, 1, 10)],                    # next-year match for 2013
        ("p3", "L"): [date(2013, 6, 1), date(2013, 7, 1)],   # a retake: the later one
        ("p4", "L"): [date(2016, 1, 1)],                     # 2013: too far, unmatched
        ("p5", "L"): [date(2014, 2, 1)],                     # taken by its own 2014 diagnosis
    }
    diagnoses = [_d("p1", "L", 2013), _d("p1", "L", 2015), _d("p2", "L", 2013),
                 _d("p3", "L", 2013), _d("p4", "L", 2013), _d("p5", "L", 2013),
                 _d("p5", "L", 2014), _d("p6", "R", 2013)]
    report = MatchReport()
    matches = match_diagnoses(diagnoses, studies, report)
    assert matches == {0: date(2013, 3, 1), 1: date(2015, 3, 1), 2: date(2014, 1, 10),
                       3: date(2013, 7, 1), 6: date(2014, 2, 1)}
    assert (report.same_year, report.next_year, report.several_studies) == (4, 1, 1)
    assert {u[0] for u in report.unmatched} == {"p4", "p5", "p6"}
    assert "belongs to its own diagnosis" in dict((u[0], u[3]) for u in report.unmatched)["p5"]


def test_archive_labels_and_report(archive):
    tree, table = archive
    data = ScreeningArchive(tree, diagnoses_csv=table)
    report = data.report
    assert report.diagnoses == len(list(csv.reader(table.open()))) - 1
    assert report.next_year > 0 and report.several_studies > 0 and report.unmatched
    assert report.interval_excluded == 2 and report.images_without_diagnosis > 0
    assert all(not r.extra["interval"] for r in data.records)
    assert set(data.labels) == {0, 1}
    for record in data.records:
        assert record.label == int(record.extra["cancer"])
        assert record.extra["study_date"].year - record.extra["diagnosis_year"] in (0, 1)
    image, target = data[0]
    assert tuple(image.shape) == (1, 64, 64) and image.dtype == torch.int32
    info = data.sample_info(-1)
    assert info["file"] == str(data.records[-1].path) and info["split"] in ("train", "val", "test")
    # a retake year: only the later study's images are used
    retakes = {r.extra["study_date"] for r in data.records if r.extra["study_date"].month in (6, 7)
               and r.extra["study_date"].year == 2013}
    assert retakes == {datetime.date(2013, 7, 4)}
    photometrics = {read_dicom(r.path).photometric for r in data.records}
    assert photometrics == {"MONOCHROME1", "MONOCHROME2"}
    assert any(r.path.name.endswith(".dcm.gz") for r in data.records)


def test_interval_follow_up_and_splits(archive, tmp_path):
    tree, table = archive
    default = ScreeningArchive(tree, diagnoses_csv=table)
    with_interval = ScreeningArchive(tree, diagnoses_csv=table, include_interval=True)
    assert len(with_interval) == len(default) + 4  # CC and MLO of two interval cancers
    referral = ScreeningArchive(tree, diagnoses_csv=table, label="follow_up")
    assert referral.labels != default.labels  # readers miss cancers and refer healthy breasts
    parts = [ScreeningArchive(tree, s, diagnoses_csv=table, seed=1) for s in ("train", "valid", "test")]
    patients = [{r.patient for r in p.records} for p in parts]
    assert sum(map(len, parts)) == len(default)
    assert not (patients[0] & patients[1] or patients[0] & patients[2] or patients[1] & patients[2])
    indexed = ScreeningArchive(tree, diagnoses_csv=table, index=tmp_path / "index.sqlite")
    assert [r.path for r in indexed.records] == [r.path for r in default.records]
    assert indexed.labels == default.labels


def _rewrite(table, edit):
    rows = list(csv.reader(table.open()))
    edit(rows)
    with open(table, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)


@pytest.mark.parametrize("edit,message", [
    (lambda rows: rows[1].__setitem__(3, "4x"), "'4x'"),
    (lambda rows: rows[1].__setitem__(6, "maybe"), "maybe"),
    (lambda rows: rows[1].__setitem__(2, "2013"), "YYYY-MM-DD"),
    (lambda rows: rows[1].__setitem__(4, ""), "two readers"),
    (lambda rows: rows.append(rows[1]), "duplicate diagnosis"),
])
def test_bad_row(copy, edit, message):
    tree, table = copy
    total = ScreeningArchive(tree, diagnoses_csv=table).report.diagnoses
    _rewrite(table, edit)
    data = ScreeningArchive(tree, diagnoses_csv=table)
    assert len(data.problems) == 1 and message in data.problems[0].message
    assert data.problems[0].file == str(table) and data.report.diagnoses in (total, total - 1)
    with pytest.raises(DataFormatError, match=message):
        ScreeningArchive(tree, diagnoses_csv=table, strict=True)


def test_missing_column(copy):
    tree, table = copy
    _rewrite(table, lambda rows: rows[0].remove("outcome"))
    with pytest.raises(DataFormatError, match="outcome"):
        ScreeningArchive(tree, diagnoses_csv=table)


def test_bad_files(copy, tmp_path):
    tree, table = copy
    with pytest.raises(MissingFileError, match="diagnoses_missing.csv"):
        ScreeningArchive(tree, diagnoses_csv=table.with_name("diagnoses_missing.csv"))
    with pytest.raises(MissingFileError, match="nowhere"):
        ScreeningArchive(tree / "nowhere", diagnoses_csv=table)
    total = len(ScreeningArchive(tree, diagnoses_csv=table))
    victim = sorted(tree.rglob("*.dcm"))[0]
    victim.write_bytes(victim.read_bytes()[:60])
    with pytest.raises(DataFormatError, match=victim.name):
        ScreeningArchive(tree, diagnoses_csv=table, strict=True)
    for data in (ScreeningArchive(tree, diagnoses_csv=table),
                 ScreeningArchive(tree, diagnoses_csv=table, index=MammoIndex(tmp_path / "i.sqlite"))):
        assert [p.file for p in data.problems] == [str(victim)]
        assert total - 1 <= len(data) <= total


def test_raw_monochrome1_dense_bright_and_workers(archive):
    tree, table = archive
    raw = ScreeningArchive(tree, diagnoses_csv=table)
    display = ScreeningArchive(tree, diagnoses_csv=table, pixels="display")
    index = next(i for i, r in enumerate(raw.records) if read_dicom(r.path).photometric == "MONOCHROME1")
    stored = read_dicom(raw.records[index].path, raw=True)
    image = raw[index][0][0].numpy()
    assert stored.pixels.dtype == np.uint16 and image.dtype == np.int32  # exact, worker-safe
    assert np.array_equal(image, 2**stored.bits_stored - 1 - stored.pixels.astype(np.int32))  # dense tissue bright
    shown = display[index][0][0].numpy()
    assert np.corrcoef(shown.ravel(), image.ravel().astype(float))[0, 1] > 0.99
    loader = DataLoader(pickle.loads(pickle.dumps(display)), batch_size=2, num_workers=1,
                        multiprocessing_context="spawn")
    images, _ = next(iter(loader))
    assert images.dtype == torch.float32

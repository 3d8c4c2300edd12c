"""Tests of histomammo.datasets.inbreast against a synthetic INbreast tree, and bad input."""

from __future__ import annotations

import pickle
import shutil

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from histomammo.datasets.birads import follow_up
from histomammo.datasets.inbreast import INbreast
from histomammo.datasets.synthetic import make_inbreast
from histomammo.errors import DataFormatError, MissingFileError
from histomammo.io.dicom import read_dicom
from histomammo.transforms.mammo import PreprocessCrop


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return make_inbreast(tmp_path_factory.mktemp("inbreast"), n_patients=10, shape=(128, 104), seed=1)


@pytest.fixture
def copy(root, tmp_path):
    return shutil.copytree(root, tmp_path / "inbreast")


def test_layout(root):
    names = sorted(p.name for p in (root / "AllDICOMs").iterdir())
    assert len(names) == 36  # 10 patients x 4 images, two of them with one breast only
    assert all(n.endswith("_ANON.dcm") and "_MG_" in n for n in names)
    assert any("_ML_" in n for n in names) and not any("_MLO_" in n for n in names)
    header = (root / "INbreast.csv").read_text().splitlines()[0]
    assert header == "Patient ID;Patient age;Laterality;View;Acquisition date;File Name;ACR;Bi-Rads"
    body = (root / "INbreast.csv").read_text()
    assert ";MLO;" in body and ";;" in body  # MLO in the table, some blank cells
    image = read_dicom(next((root / "AllDICOMs").iterdir()), raw=True)
    assert image.bits_stored == 14 and image.photometric == "MONOCHROME2"


def test_smoke_and_labels(root):
    data = INbreast(root)
    assert len(data) == 36
    image, target = data[0]
    assert tuple(image.shape) == (1, 128, 104) and image.dtype == torch.float32
    for record in data.records:
        assert target in (0, 1)
        assert record.label == int(follow_up(record.extra["birads"]))
        assert record.path.name.split("_")[1] == record.patient
        assert record.view in ("CC", "MLO") and record.laterality in ("L", "R")
    assert {r.extra["birads"] for r in data.records} & {"4a", "4b", "4c", "5", "6"}
    birads = INbreast(root, label="birads")
    assert set(birads.labels) <= {1, 2, 3, 4, 5, 6}


def test_malignant_convention(root):
    excluded = INbreast(root, label="malignant")
    negative = INbreast(root, label="malignant", birads3="negative")
    threes = sum(r.extra["birads"] == "3" for r in negative.records)
    assert threes > 0 and len(negative) == len(excluded) + threes
    for record in excluded.records:
        assert record.label == int(record.extra["birads"][0] in "456")


def test_patient_grouped_split(root):
    parts = {s: INbreast(root, split=s, seed=3) for s in ("train", "val", "test")}
    patients = {s: {r.patient for r in d.records} for s, d in parts.items()}
    assert sum(len(d) for d in parts.values()) == 36
    assert not (patients["train"] & patients["val"] or patients["train"] & patients["test"])
    assert len(patients["train"]) == 8
    again = INbreast(root, split="train", seed=3)
    assert [r.path for r in again.records] == [r.path for r in parts["train"].records]


def test_rois(root):
    data = INbreast(root)
    malignant = next(i for i, r in enumerate(data.records) if r.extra["birads"][0] in "456")
    rois = data.rois(malignant)
    masses = [roi for roi in rois if roi.name == "Mass"]
    assert masses and masses[0].points.shape[1] == 2 and len(masses[0].points) > 4
    x, y = masses[0].points.mean(axis=0)
    assert 0 <= x < 104 and 0 <= y < 128
    assert any(roi.name == "Calcification" and len(roi.points) == 1 for roi in rois)


def test_transform_pickle_and_workers(root):
    data = INbreast(root, transform=PreprocessCrop(out_size=(32, 32)))
    loader = DataLoader(pickle.loads(pickle.dumps(data)), batch_size=4, num_workers=2)
    images, targets = next(iter(loader))
    assert tuple(images.shape) == (4, 1, 32, 32) and targets.dtype == torch.int64


def _edit_csv(path, old, new, count=1):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, count))


def test_missing_column(copy):
    _edit_csv(copy / "INbreast.csv", ";Bi-Rads", ";BIRADS")
    with pytest.raises(DataFormatError, match=r"INbreast.csv.*Bi-Rads"):
        INbreast(copy)


def test_unknown_birads(copy):
    lines = (copy / "INbreast.csv").read_text().splitlines()
    cells = lines[3].split(";"); cells[-1] = "4d"  # noqa: E702
    lines[3] = ";".join(cells)
    (copy / "INbreast.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match=r"INbreast.csv, row 4.*'4d'"):
        INbreast(copy)


def test_absent_file_and_duplicate_row(copy):
    lines = (copy / "INbreast.csv").read_text().splitlines()
    (copy / "INbreast.csv").write_text("\n".join([*lines, lines[1]]) + "\n")
    with pytest.raises(DataFormatError, match="duplicate row"):
        INbreast(copy)
    (copy / "INbreast.csv").write_text("\n".join(lines) + "\n")
    victim = sorted((copy / "AllDICOMs").iterdir())[0]
    victim.unlink()
    with pytest.raises(MissingFileError, match=victim.name.split("_")[0]):
        INbreast(copy)
    with pytest.raises(MissingFileError, match="INbreast.csv"):
        INbreast(copy / "nowhere")


def test_mismatched_view_and_garbled_files(copy):
    data = INbreast(copy)
    target = data.records[0].path
    target.write_bytes(target.read_bytes()[:2000])  # truncated DICOM
    with pytest.raises(DataFormatError, match=target.name):
        data[0]
    xml = copy / "AllXML" / f"{data.records[1].extra['file_id']}.xml"
    xml.write_text("<plist><dict><key>Images</key>")
    with pytest.raises(DataFormatError, match=xml.name):
        data.rois(1)
    lines = (copy / "INbreast.csv").read_text().splitlines()
    lines[1] = lines[1].replace(";CC;", ";XX;").replace(";MLO;", ";XX;")
    (copy / "INbreast.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match="XX"):
        INbreast(copy)
    assert not list(copy.rglob("*.tmp"))
    assert np.isfinite(data[2][0].numpy()).all()

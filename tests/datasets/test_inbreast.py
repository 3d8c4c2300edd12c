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
    assert tuple(image.shape) == (1, 128, 104) and image.dtype == torch.int32
    assert target in (0, 1) and data.problems == []
    for index, record in enumerate(data.records):
        assert record.label == int(follow_up(record.extra["birads"]))
        assert record.path.name.split("_")[1] == record.patient
        assert record.view in ("CC", "MLO", "FB") and record.laterality in ("L", "R")
        info = data.sample_info(index)
        assert info["file"] == str(record.path) and info["split"] in ("train", "val", "test")
        assert (info["patient"], info["laterality"], info["view"]) == (
            record.patient, record.laterality, record.view)
    assert {r.extra["birads"] for r in data.records} & {"4a", "4b", "4c", "5", "6"}
    birads = INbreast(root, label="birads")
    assert set(birads.labels) <= {1, 2, 3, 4, 5, 6}


def test_pixels_raw_and_display(root):
    raw, display = INbreast(root), INbreast(root, pixels="display")
    stored = read_dicom(raw.records[-1].path, raw=True).pixels
    assert np.array_equal(raw[-1][0][0].numpy(), stored)  # negative index, stored values
    assert display[-1][0].dtype == torch.float32
    assert np.allclose(display[-1][0][0].numpy(), read_dicom(raw.records[-1].path).pixels)
    with pytest.raises(ValueError, match="pixels"):
        INbreast(root, pixels="float")
    with pytest.raises(IndexError):
        raw[len(raw)]


def test_fb_view_row(root):
    """The release's table names one image's View FB (its file name says ML): read, not fatal."""
    lines = (root / "INbreast.csv").read_text().splitlines()
    fb = [line for line in lines if ";FB;" in line]
    assert len(fb) == 1  # the writer's default quirk
    data = INbreast(root)
    index = next(i for i, r in enumerate(data.records) if r.view == "FB")
    assert data.records[index].path.name.endswith("_ML_ANON.dcm")
    assert data.sample_info(index)["file_view"] == "MLO" and data.problems == []
    standard = INbreast(root, views=("CC", "MLO"))
    assert len(standard) == len(data) - 1
    assert len(standard.problems) == 1 and "'FB'" in str(standard.problems[0])
    assert "INbreast.csv" in standard.problems[0].file
    with pytest.raises(DataFormatError, match="FB"):
        INbreast(root, views=("CC", "MLO"), strict=True)


def test_malignant_convention(root):
    excluded = INbreast(root, label="malignant")
    negative = INbreast(root, label="malignant", birads3="negative")
    threes = sum(r.extra["birads"] == "3" for r in negative.records)
    assert threes > 0 and len(negative) == len(excluded) + threes
    for record in excluded.records:
        assert record.label == int(record.extra["birads"][0] in "456")


def test_patient_grouped_split(root):
    parts = {s: INbreast(root, s, seed=3) for s in ("train", "val", "test")}
    patients = {s: {r.patient for r in d.records} for s, d in parts.items()}
    assert sum(len(d) for d in parts.values()) == 36
    assert not (patients["train"] & patients["val"] or patients["train"] & patients["test"])
    assert len(patients["train"]) == 8
    again = INbreast(root, split="train", seed=3)
    assert [r.path for r in again.records] == [r.path for r in parts["train"].records]
    assert [r.path for r in INbreast(root, "valid", seed=3).records] == [
        r.path for r in parts["val"].records]
    assert all(parts["val"].sample_info(i)["split"] == "val" for i in range(len(parts["val"])))
    with pytest.raises(ValueError, match="split"):
        INbreast(root, "testA")


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
    data = INbreast(root, transform=PreprocessCrop(out_size=(32, 32)), pixels="display")
    loader = DataLoader(pickle.loads(pickle.dumps(data)), batch_size=4, num_workers=2,
                        multiprocessing_context="spawn")
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
    data = INbreast(copy)
    assert len(data) == 35 and len(data.problems) == 1
    assert data.problems[0].row == 4 and "'4d'" in data.problems[0].message
    with pytest.raises(DataFormatError, match=r"INbreast.csv, row 4.*'4d'"):
        INbreast(copy, strict=True)


def test_absent_file_and_duplicate_row(copy, caplog):
    lines = (copy / "INbreast.csv").read_text().splitlines()
    (copy / "INbreast.csv").write_text("\n".join([*lines, lines[1]]) + "\n")
    with caplog.at_level("WARNING", logger="histomammo.datasets"):
        data = INbreast(copy)
    assert len(data) == 36 and "duplicate row" in data.problems[0].message
    assert data.problems[0].row == len(lines) + 1
    assert [r.getMessage() for r in caplog.records if "duplicate row" in r.getMessage()]
    with pytest.raises(DataFormatError, match="duplicate row"):
        INbreast(copy, strict=True)
    (copy / "INbreast.csv").write_text("\n".join(lines) + "\n")
    victim = sorted((copy / "AllDICOMs").iterdir())[0]
    victim.unlink()
    data = INbreast(copy)
    assert len(data) == 35 and victim.name.split("_")[0] in data.problems[0].message
    with pytest.raises(MissingFileError, match=victim.name.split("_")[0]):
        INbreast(copy, strict=True)
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
    assert "XX" in INbreast(copy).problems[0].message
    with pytest.raises(DataFormatError, match="XX"):
        INbreast(copy, strict=True)
    assert not list(copy.rglob("*.tmp"))
    assert np.isfinite(data[2][0].numpy().astype(float)).all()


def test_wrong_kind_of_image(copy):
    from histomammo.datasets.synthetic import write_dicom

    data = INbreast(copy)
    path = data.records[0].path
    write_dicom(path, np.zeros((8, 8), np.uint16), PhotometricInterpretation="YBR_FULL")
    with pytest.raises(DataFormatError, match=path.name):
        data[0]


def test_marker_removal_on_stored_values(copy):
    """A tissue window saturates the brightest tissue: "saturated" removal blanks it on
    display values, not on the stored values the dataset now gives by default."""
    from histomammo.datasets.synthetic import write_dicom
    from histomammo.transforms.mammo import breast_mask, remove_markers

    path = INbreast(copy).records[0].path
    stored = read_dicom(path, raw=True)
    breast = breast_mask(stored.pixels)
    low, high = np.percentile(stored.pixels[breast], (2, 98))
    write_dicom(path, stored.pixels, bits_stored=14, laterality=stored.laterality,
                view=stored.view, window=((low + high) / 2, high - low))
    for pixels, share in (("display", 0.005), ("raw", 0.0)):
        image = INbreast(copy, pixels=pixels)[0][0][0].numpy()
        blanked = (remove_markers(image) != image)[breast].mean()
        assert blanked > share if share else blanked == 0

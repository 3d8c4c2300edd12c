"""Tests of histomammo.datasets.synthetic: the MG DICOM writer and the synthetic mammogram."""

from __future__ import annotations

import datetime
import gzip
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import (
    DigitalMammographyXRayImageStorageForPresentation,
    DigitalMammographyXRayImageStorageForProcessing,
    ExplicitVRLittleEndian,
)
from scipy import ndimage
from skimage.filters import threshold_otsu

from histomammo.datasets.synthetic import synthetic_mammogram, write_dicom
from histomammo.io.dicom import read_dicom


@pytest.fixture
def mammogram(rng: np.random.Generator) -> np.ndarray:
    return synthetic_mammogram((64, 48), rng)


def test_smoke(tmp_path: Path, mammogram: np.ndarray) -> None:
    path = write_dicom(tmp_path / "scan.dcm", mammogram)
    assert path == tmp_path / "scan.dcm"
    assert path.read_bytes()[128:132] == b"DICM"
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


@pytest.mark.parametrize("photometric", ["MONOCHROME1", "MONOCHROME2"])
@pytest.mark.parametrize("bits_stored", [12, 14])
def test_round_trip_pydicom(
    tmp_path: Path, rng: np.random.Generator, photometric: str, bits_stored: int
) -> None:
    pixels = synthetic_mammogram((40, 32), rng, bits_stored=bits_stored)
    path = write_dicom(
        tmp_path / "scan.dcm", pixels, photometric=photometric, bits_stored=bits_stored,
        laterality="R", view="MLO", window=(1000, 2000), voi_function="SIGMOID",
        patient_id="P0007", study_date="20210305", pixel_spacing=(0.07, 0.07),
        manufacturer="ACME",
    )
    ds = pydicom.dcmread(path)
    assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert ds.SOPClassUID == DigitalMammographyXRayImageStorageForPresentation
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert (ds.Modality, ds.PresentationIntentType) == ("MG", "FOR PRESENTATION")
    assert (ds.BitsAllocated, ds.BitsStored, ds.HighBit) == (16, bits_stored, bits_stored - 1)
    assert (ds.PixelRepresentation, ds.SamplesPerPixel) == (0, 1)
    assert ds.PhotometricInterpretation == photometric
    assert ds.PresentationLUTShape == ("INVERSE" if photometric == "MONOCHROME1" else "IDENTITY")
    assert (ds.ImageLaterality, ds.Laterality, ds.ViewPosition) == ("R", "R", "MLO")
    assert list(ds.PatientOrientation) == ["P", "FL"]
    assert ds.ViewCodeSequence[0].CodeValue == "399368009"
    assert (float(ds.WindowCenter), float(ds.WindowWidth), ds.VOILUTFunction) == (
        1000.0, 2000.0, "SIGMOID",
    )
    assert (ds.PatientID, ds.StudyDate, ds.Manufacturer) == ("P0007", "20210305", "ACME")
    assert [float(v) for v in ds.PixelSpacing] == [0.07, 0.07]
    assert [float(v) for v in ds.ImagerPixelSpacing] == [0.07, 0.07]
    assert ds.pixel_array.dtype == np.uint16
    np.testing.assert_array_equal(ds.pixel_array, pixels)


def test_round_trip_read_dicom(tmp_path: Path, mammogram: np.ndarray) -> None:
    path = write_dicom(tmp_path / "scan.dcm.gz", mammogram, laterality="R", gzip=True)
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    assert pydicom.dcmread(gzip.open(path)).Modality == "MG"
    image = read_dicom(path, raw=True)
    np.testing.assert_array_equal(image.pixels, mammogram)
    assert (image.laterality, image.view, image.patient_id) == ("R", "CC", "P0000")
    assert image.study_date == datetime.date(2020, 1, 1)
    assert image.pixel_spacing == (0.1, 0.1)
    assert image.burned_in_annotation is False
    assert image.presentation_intent == "FOR PRESENTATION"


def test_deterministic_files_and_shared_study(tmp_path: Path, mammogram: np.ndarray) -> None:
    first = write_dicom(tmp_path / "a.dcm", mammogram, gzip=True).read_bytes()
    again = write_dicom(tmp_path / "b.dcm", mammogram, gzip=True).read_bytes()
    assert first == again
    cc = pydicom.dcmread(write_dicom(tmp_path / "cc.dcm", mammogram, view="CC"))
    mlo = pydicom.dcmread(write_dicom(tmp_path / "mlo.dcm", mammogram, view="MLO"))
    other = pydicom.dcmread(write_dicom(tmp_path / "p1.dcm", mammogram, patient_id="P0001"))
    assert cc.StudyInstanceUID == mlo.StudyInstanceUID != other.StudyInstanceUID
    assert cc.SeriesInstanceUID != mlo.SeriesInstanceUID
    assert len({cc.SOPInstanceUID, mlo.SOPInstanceUID, other.SOPInstanceUID}) == 3


def test_extra_elements(tmp_path: Path, mammogram: np.ndarray) -> None:
    path = write_dicom(
        tmp_path / "scan.dcm", mammogram, window=None, pixel_spacing=None,
        ImageLaterality=None, BurnedInAnnotation="YES", PresentationIntentType="FOR PROCESSING",
    )
    ds = pydicom.dcmread(path)
    assert "ImageLaterality" not in ds and ds.Laterality == "L"
    assert "WindowCenter" not in ds and "PixelSpacing" not in ds
    assert ds.BurnedInAnnotation == "YES"
    assert ds.SOPClassUID == DigitalMammographyXRayImageStorageForProcessing


def test_exception(tmp_path: Path, mammogram: np.ndarray) -> None:
    target = tmp_path / "scan.dcm"
    write_dicom(target, mammogram)
    before = target.read_bytes()
    too_bright = np.full((16, 16), 4096, np.uint16)
    bad_calls = [
        (ValueError, dict(pixels=too_bright), "4095"),
        (ValueError, dict(pixels=too_bright * 4, bits_stored=14), "16383"),
        (ValueError, dict(pixels=-np.ones((16, 16), np.int32)), r"\[-1, -1\]"),
        (TypeError, dict(pixels=np.zeros((16, 16), np.float32)), "float32"),
        (ValueError, dict(pixels=np.zeros((2, 16, 16), np.uint16)), "shape"),
        (ValueError, dict(bits_stored=16), "bits_stored"),
        (ValueError, dict(photometric="RGB"), "photometric"),
        (ValueError, dict(laterality="B"), "laterality"),
        (ValueError, dict(view="ML"), "view"),
        (ValueError, dict(voi_function="GAMMA"), "voi_function"),
        (ValueError, dict(study_date="2020-01-01"), "study_date"),
        (ValueError, dict(NotAKeyword=1), "NotAKeyword"),
    ]
    for error, kwargs, message in bad_calls:
        kwargs.setdefault("pixels", mammogram)
        with pytest.raises(error, match=message):
            write_dicom(target, **kwargs)
    assert target.read_bytes() == before  # refused calls leave the old file untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scan.dcm"]
    write_dicom(target, np.full((16, 16), 4095, np.uint16))  # the largest 12-bit value is fine


@pytest.mark.parametrize("laterality", ["L", "R"])
def test_mammogram_shape_and_side(laterality: str) -> None:
    image = synthetic_mammogram((128, 96), np.random.default_rng(3), laterality=laterality)
    assert image.shape == (128, 96) and image.dtype == np.uint16
    assert image.max() <= 4095
    breast = image > threshold_otsu(image)
    labels, count = ndimage.label(breast)
    assert count == 1  # one breast region, which Otsu separates from the background
    chest_wall = 0 if laterality == "L" else -1
    assert breast[:, chest_wall].mean() > 0.6  # flat side against the chest wall
    assert not breast[:, -1 - chest_wall].any()  # the nipple side ends inside the image
    assert not breast[[0, -1], :].all()  # rounded: the top and bottom rows are not all breast
    assert image[breast].mean() > 8 * image[~breast].mean()


def test_mammogram_deterministic_and_random() -> None:
    first = synthetic_mammogram((64, 64), np.random.default_rng(7))
    again = synthetic_mammogram((64, 64), np.random.default_rng(7))
    other = synthetic_mammogram((64, 64), np.random.default_rng(8))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_mammogram_bits_and_pectoral() -> None:
    deep = synthetic_mammogram((96, 64), np.random.default_rng(0), bits_stored=14)
    assert 4095 < deep.max() <= 16383
    cc = synthetic_mammogram((96, 64), np.random.default_rng(0), view="CC")
    mlo = synthetic_mammogram((96, 64), np.random.default_rng(0), view="MLO")
    corner = (slice(0, 12), slice(0, 8))  # upper chest-wall corner of a left breast
    assert mlo[corner].mean() > cc[corner].mean()
    np.testing.assert_array_equal(mlo[60:], cc[60:])  # the muscle only covers the top


def test_mammogram_exception() -> None:
    rng = np.random.default_rng(0)
    for kwargs, message in [
        (dict(shape=(8, 64)), "shape"),
        (dict(shape=(64,)), "shape"),
        (dict(laterality="left"), "laterality"),
        (dict(view="XCCL"), "view"),
        (dict(bits_stored=17), "bits_stored"),
    ]:
        with pytest.raises(ValueError, match=message):
            synthetic_mammogram(kwargs.pop("shape", (64, 64)), rng, **kwargs)


@pytest.mark.parametrize("bits_stored", [12, 14])
def test_full_window_is_identity(
    tmp_path: Path, rng: np.random.Generator, bits_stored: int
) -> None:
    pixels = synthetic_mammogram((32, 32), rng, bits_stored=bits_stored)
    path = write_dicom(tmp_path / "scan.dcm", pixels, bits_stored=bits_stored)
    ds = pydicom.dcmread(path)
    window = (float(ds.WindowCenter), float(ds.WindowWidth))
    assert window == (2 ** (bits_stored - 1), 2**bits_stored)
    np.testing.assert_allclose(
        read_dicom(path).pixels, pixels / (2**bits_stored - 1), rtol=0, atol=1e-6
    )

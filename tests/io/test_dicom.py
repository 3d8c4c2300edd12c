"""Tests of histomammo.io.dicom against pydicom's own bundled test files and pixel pipeline."""

from __future__ import annotations

import datetime
import gzip
import logging
import struct
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file, get_testdata_files
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import BytesLengthException, InvalidDicomError
from pydicom.pixels import apply_modality_lut, apply_voi_lut, get_decoder
from pydicom.uid import JPEG2000Lossless, JPEGExtended12Bit

from histomammo.datasets.synthetic import synthetic_mammogram, write_dicom
from histomammo.errors import DataFormatError, MissingDependencyError
from histomammo.io import _dicom_file
from histomammo.io.dicom import DicomImage, read_dicom


def bundled(name: str) -> Path:
    """A file shipped inside the pydicom wheel (never downloaded)."""
    found = get_testdata_file(name, download=False)
    assert found is not None, f"pydicom test file {name} is not bundled"
    return Path(found)


def _cr_radiographs() -> list[Path]:
    paths = []
    for name in get_testdata_files("dicomdirtests/**/*"):
        if not Path(name).is_file():
            continue
        try:
            header = pydicom.dcmread(name, stop_before_pixels=True)
        except InvalidDicomError:
            continue  # README and DICOMDIR helpers
        if header.get("Modality") == "CR":
            paths.append(Path(name))
    return sorted(paths)


CR_FILES = _cr_radiographs()


def pydicom_display(path: Path, y_min: float, y_max: float) -> np.ndarray:
    """Reference: pydicom's modality LUT then VOI LUT, divided by the known output range."""
    ds = pydicom.dcmread(path)
    windowed = apply_voi_lut(apply_modality_lut(ds.pixel_array, ds), ds)
    return (windowed - y_min) / (y_max - y_min)


@pytest.fixture
def mammogram(rng: np.random.Generator) -> np.ndarray:
    return synthetic_mammogram((48, 40), rng, bits_stored=12)


def test_smoke(tmp_path: Path, mammogram: np.ndarray) -> None:
    image = read_dicom(write_dicom(tmp_path / "scan.dcm", mammogram))
    assert isinstance(image, DicomImage)
    assert image.pixels.shape == mammogram.shape
    assert image.pixels.dtype == np.float32
    assert 0.0 <= image.pixels.min() and image.pixels.max() <= 1.0
    with pytest.raises(AttributeError):
        image.view = "MLO"  # frozen


def test_cr_files_found() -> None:
    assert len(CR_FILES) >= 3


@pytest.mark.parametrize("path", CR_FILES, ids=lambda p: "/".join(p.parts[-2:]))
def test_matches_reference_cr_monochrome1(path: Path) -> None:
    ds = pydicom.dcmread(path)
    assert ds.PhotometricInterpretation == "MONOCHROME1" and ds.BitsStored == 12
    assert "WindowCenter" in ds
    slope, intercept = float(ds.RescaleSlope), float(ds.RescaleIntercept)
    # apply_windowing maps onto the stored range passed through the rescale.
    y_min, y_max = intercept, (2**12 - 1) * slope + intercept
    reference = pydicom_display(path, y_min, y_max)

    image = read_dicom(path)
    np.testing.assert_allclose(image.pixels, 1.0 - reference, rtol=0, atol=1e-6)
    kept = read_dicom(path, invert=False)
    np.testing.assert_allclose(kept.pixels, reference, rtol=0, atol=1e-6)
    assert image.photometric == "MONOCHROME1"
    assert image.pixel_spacing == (0.1, 0.1)  # only ImagerPixelSpacing in these files


MR_TWINS = ["MR_small_bigendian.dcm", "MR_small_implicit.dcm", "MR_small_RLE.dcm", "zipMR.gz"]


@pytest.mark.parametrize("name", MR_TWINS)
def test_transfer_syntax_twins_identical(name: str) -> None:
    reference = read_dicom(bundled("MR_small.dcm"))
    twin = read_dicom(bundled(name))
    np.testing.assert_array_equal(twin.pixels, reference.pixels)
    raw = read_dicom(bundled(name), raw=True)
    raw_reference = read_dicom(bundled("MR_small.dcm"), raw=True)
    assert raw.pixels.dtype == np.dtype(np.int16)  # native byte order, even from big endian
    np.testing.assert_array_equal(raw.pixels, raw_reference.pixels)


def test_matches_reference_mr_signed_window() -> None:
    path = bundled("MR_small.dcm")
    ds = pydicom.dcmread(path)
    assert ds.PixelRepresentation == 1 and "RescaleSlope" not in ds
    reference = pydicom_display(path, -(2**15), 2**15 - 1)
    np.testing.assert_allclose(read_dicom(path).pixels, reference, rtol=0, atol=1e-6)


def test_matches_reference_first_of_several_windows() -> None:
    path = bundled("examples_overlay.dcm")
    assert len(pydicom.dcmread(path).WindowCenter) == 2
    reference = pydicom_display(path, 0, 2**12 - 1)  # index 0: the first window
    np.testing.assert_allclose(read_dicom(path).pixels, reference, rtol=0, atol=1e-6)


def test_exception_truncated_pixel_data() -> None:
    with pytest.raises(DataFormatError, match=r"MR_truncated.dcm: truncated.* 8192 bytes"):
        read_dicom(bundled("MR_truncated.dcm"))


def test_exception_jpeg2000_decoder_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    path = bundled("MR_small_jp2klossless.dcm")
    decoder = get_decoder(JPEG2000Lossless)
    if decoder.is_available:  # e.g. Pillow built with OpenJPEG: it must decode exactly
        np.testing.assert_array_equal(
            read_dicom(path).pixels, read_dicom(bundled("MR_small.dcm")).pixels
        )
    # Withdraw every installed plugin, as on a machine without any JPEG 2000 decoder.
    monkeypatch.setattr(decoder, "_available", {})
    with pytest.raises(MissingDependencyError) as info:
        read_dicom(path)
    message = str(info.value)
    assert "MR_small_jp2klossless.dcm" in message
    assert "JPEG 2000 Image Compression (Lossless Only)" in message
    assert "1.2.840.10008.1.2.4.90" in message
    assert "pylibjpeg-openjpeg" in message and "python-gdcm" in message


def test_exception_jpeg_ls_decoder_missing() -> None:
    path = bundled("MR_small_jpeg_ls_lossless.dcm")
    syntax = pydicom.dcmread(path).file_meta.TransferSyntaxUID
    if get_decoder(syntax).is_available:
        np.testing.assert_array_equal(
            read_dicom(path).pixels, read_dicom(bundled("MR_small.dcm")).pixels
        )
    else:
        with pytest.raises(MissingDependencyError, match="JPEG-LS Lossless Image Compression"):
            read_dicom(path)


def test_jpeg_extended_12bit_decodes() -> None:
    """Archive mammograms are often 12-bit lossy JPEG: the dicom extra decodes pydicom's two."""
    pytest.importorskip("libjpeg", reason="the dicom extra (pylibjpeg-libjpeg) is not installed")
    fixed, lossy = bundled("JPGExtended.dcm"), bundled("JPEG-lossy.dcm")
    expected = pydicom.dcmread(fixed).pixel_array
    image = read_dicom(fixed, raw=True)
    assert image.bits_stored == 12 and image.pixels.shape == (1024, 256)
    np.testing.assert_array_equal(image.pixels, expected)
    # JPEG-lossy.dcm differs from it only by a scan header byte (Se = 0), repaired on reading
    np.testing.assert_array_equal(read_dicom(lossy, raw=True).pixels, expected)
    display = read_dicom(lossy).pixels
    assert display.dtype == np.float32 and 0 <= display.min() < display.max() <= 1


def test_exception_jpeg_extended_without_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    decoder = get_decoder(JPEGExtended12Bit)
    monkeypatch.setattr(decoder, "_available", {})  # as on a machine without the extra
    for name in ("JPGExtended.dcm", "JPEG-lossy.dcm"):
        with pytest.raises(MissingDependencyError) as info:
            read_dicom(bundled(name))
        message = str(info.value)
        assert name in message and "1.2.840.10008.1.2.4.51" in message
        assert "pip install 'histomammo[dicom]'" in message


def _write_cut_points(tmp_path: Path, mammogram: np.ndarray) -> list[Path]:
    whole = write_dicom(tmp_path / "whole.dcm", mammogram).read_bytes()
    pixel_tag = whole.index(b"\xe0\x7f\x10\x00")
    cuts = [0, 1, 100, 128, 132, 200, len(whole) // 2, pixel_tag + 4, pixel_tag + 12]
    cuts.append(len(whole) - 1)
    paths = []
    for cut in cuts:
        paths.append(tmp_path / f"cut_at_{cut}.dcm")
        paths[-1].write_bytes(whole[:cut])
    return paths


@pytest.mark.filterwarnings("ignore:End of file reached before delimiter:UserWarning")
def test_exception_not_dicom(
    tmp_path: Path, mammogram: np.ndarray, rng: np.random.Generator
) -> None:
    whole = write_dicom(tmp_path / "whole.dcm", mammogram).read_bytes()
    length_at = whole.index(b"\xe0\x7f\x10\x00OW\x00\x00") + 8
    wrong_length = bytearray(whole)
    wrong_length[length_at : length_at + 4] = struct.pack("<I", 2 * len(mammogram.tobytes()))
    broken = {
        "notes.txt": b"patient list\nP0001, left CC\n" * 20,
        "random.dcm": rng.integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        "empty.dcm": b"",
        "flipped.dcm": bytes(b ^ 0xFF for b in whole),
        "wrong_length.dcm": bytes(wrong_length),
        "bad_gzip.dcm.gz": gzip.compress(whole)[:300],
    }
    paths = _write_cut_points(tmp_path, mammogram)
    for name, content in broken.items():
        paths.append(tmp_path / name)
        paths[-1].write_bytes(content)
    for path in paths:
        with pytest.raises(DataFormatError) as info:
            read_dicom(path)
        assert path.name in str(info.value)


@pytest.mark.parametrize(
    "error",
    [
        InvalidDicomError("bad preamble"),
        BytesLengthException("odd length"),
        ValueError("bad value"),
        EOFError("ended"),
        struct.error("unpack requires a buffer"),
        KeyError((0x0028, 0x0010)),
        IndexError("list index out of range"),
        AttributeError("no Rows"),
        TypeError("bad type"),
        NotImplementedError("unsupported"),
        RuntimeError("decoder failed"),
        OSError("read failed"),
    ],
    ids=lambda err: type(err).__name__,
)
def test_exception_every_pydicom_error_wrapped(
    tmp_path: Path, mammogram: np.ndarray, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    path = write_dicom(tmp_path / "scan.dcm", mammogram)

    def failing_dcmread(*args: object, **kwargs: object) -> Dataset:
        raise error

    monkeypatch.setattr(_dicom_file, "read_partial", failing_dcmread)
    with pytest.raises(DataFormatError, match="scan.dcm") as info:
        read_dicom(path)
    assert info.value.__cause__ is error


def test_exception_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_dicom(tmp_path / "absent.dcm")


def test_exception_no_pixel_data() -> None:
    with pytest.raises(DataFormatError, match=r"rtplan.dcm: no Pixel Data"):
        read_dicom(bundled("rtplan.dcm"))


def test_exception_colour_needs_raw() -> None:
    path = bundled("examples_palette.dcm")
    with pytest.raises(DataFormatError, match="PALETTE COLOR"):
        read_dicom(path)
    raw = read_dicom(path, raw=True).pixels
    np.testing.assert_array_equal(raw, pydicom.dcmread(path).pixel_array)


def test_multi_frame_stack() -> None:
    image = read_dicom(bundled("rtdose.dcm"))
    assert image.pixels.shape == (15, 10, 10)
    np.testing.assert_array_equal(image.pixels, read_dicom(bundled("rtdose_rle.dcm")).pixels)
    raw = read_dicom(bundled("rtdose.dcm"), raw=True).pixels
    np.testing.assert_allclose(image.pixels, raw / (2**32 - 1), rtol=1e-6)  # no VOI, 32 bits


def test_exception_enhanced_multi_frame_needs_raw() -> None:
    path = bundled("liver_1frame.dcm")
    with pytest.raises(DataFormatError, match="enhanced multi-frame"):
        read_dicom(path)
    assert read_dicom(path, raw=True).pixels.shape == pydicom.dcmread(path).pixel_array.shape


@pytest.mark.parametrize("photometric", ["MONOCHROME1", "MONOCHROME2"])
@pytest.mark.parametrize("function", [None, "LINEAR", "LINEAR_EXACT", "SIGMOID"])
def test_matches_reference_voi_functions(
    tmp_path: Path, mammogram: np.ndarray, photometric: str, function: str | None
) -> None:
    path = write_dicom(
        tmp_path / "scan.dcm", mammogram, photometric=photometric, window=(1800, 900),
        voi_function=function,
    )
    reference = pydicom_display(path, 0, 4095)
    expected = 1.0 - reference if photometric == "MONOCHROME1" else reference
    np.testing.assert_allclose(read_dicom(path).pixels, expected, rtol=0, atol=1e-6)
    assert np.any((reference > 0.01) & (reference < 0.99))  # the window is not all clipped


def test_matches_reference_rescale_and_window(tmp_path: Path, mammogram: np.ndarray) -> None:
    path = write_dicom(
        tmp_path / "scan.dcm", mammogram, window=(3000, 2000), RescaleSlope=2, RescaleIntercept=-100
    )
    reference = pydicom_display(path, -100, 2 * 4095 - 100)
    image = read_dicom(path)
    np.testing.assert_allclose(image.pixels, reference, rtol=0, atol=1e-6)
    assert image.pixels.min() == 0.0 and image.pixels.max() == 1.0  # saturated on both sides


def test_voi_override(tmp_path: Path, mammogram: np.ndarray) -> None:
    lut = _voi_lut_item(np.arange(4096) // 2, bits=12)
    path = write_dicom(tmp_path / "scan.dcm", mammogram, window=(2048, 4096), VOILUTSequence=[lut])
    ds = pydicom.dcmread(path)
    del ds.VOILUTSequence
    ds.WindowCenter, ds.WindowWidth = 1500.5, 700.0
    reference = apply_voi_lut(apply_modality_lut(ds.pixel_array, ds), ds) / 4095
    pixels = read_dicom(path, voi=(1500.5, 700.0)).pixels
    np.testing.assert_allclose(pixels, reference, rtol=0, atol=1e-6)


def test_voi_none_uses_known_range(tmp_path: Path) -> None:
    stored = np.zeros((16, 16), np.uint16)
    stored[4:12, 4:12] = 3000  # the image's own maximum is not the range
    for bits in (12, 14):
        path = write_dicom(tmp_path / f"scan{bits}.dcm", stored, bits_stored=bits, window=(100, 50))
        pixels = read_dicom(path, voi="none").pixels
        np.testing.assert_allclose(pixels, stored / (2**bits - 1), rtol=0, atol=1e-7)
    inverted = write_dicom(tmp_path / "mono1.dcm", stored, photometric="MONOCHROME1")
    pixels = read_dicom(inverted, voi="none").pixels
    np.testing.assert_allclose(pixels, 1 - stored / 4095, rtol=0, atol=1e-7)


def test_raw_keeps_stored_values(tmp_path: Path, mammogram: np.ndarray) -> None:
    path = write_dicom(tmp_path / "scan.dcm", mammogram, photometric="MONOCHROME1", RescaleSlope=3)
    raw = read_dicom(path, raw=True).pixels
    assert raw.dtype == np.uint16
    np.testing.assert_array_equal(raw, mammogram)


def _voi_lut_item(values: np.ndarray, bits: int) -> Dataset:
    item = Dataset()
    item.LUTDescriptor = [len(values), 0, bits]
    item.add_new("LUTData", "US", [int(v) for v in values])
    return item


def test_matches_reference_voi_lut_sequence(tmp_path: Path, mammogram: np.ndarray) -> None:
    lut = _voi_lut_item(np.sqrt(np.arange(4096) / 4095) * 4095, bits=12)
    path = write_dicom(tmp_path / "scan.dcm", mammogram, window=(100, 10), VOILUTSequence=[lut])
    ds = pydicom.dcmread(path)
    reference = apply_voi_lut(ds.pixel_array, ds) / 4095  # the LUT is preferred over the window
    np.testing.assert_allclose(read_dicom(path).pixels, reference, rtol=0, atol=1e-6)


def test_out_of_range_lut_clipped_with_warning(
    tmp_path: Path, mammogram: np.ndarray, caplog: pytest.LogCaptureFixture
) -> None:
    lut = _voi_lut_item(np.arange(4096) * 2, bits=12)  # data exceed the declared 12 bits
    path = write_dicom(tmp_path / "scan.dcm", mammogram, VOILUTSequence=[lut])
    with caplog.at_level(logging.WARNING, logger="histomammo"):
        pixels = read_dicom(path).pixels
    assert pixels.max() == 1.0 and pixels.min() >= 0.0
    assert "clipped" in caplog.text and "scan.dcm" in caplog.text


def test_exception_bad_voi_argument(tmp_path: Path, mammogram: np.ndarray) -> None:
    path = write_dicom(tmp_path / "scan.dcm", mammogram)
    for voi in ["window", (1.0,), (100.0, 0.0), (float("nan"), 10.0), (100.0, 0.5)]:
        with pytest.raises(ValueError, match="voi") as info:
            read_dicom(path, voi=voi)  # type: ignore[arg-type]
        assert not isinstance(info.value, DataFormatError)
    sigmoid = write_dicom(tmp_path / "sigmoid.dcm", mammogram, voi_function="SIGMOID")
    assert read_dicom(sigmoid, voi=(100.0, 0.5)).pixels.dtype == np.float32  # width < 1 is legal


def test_exception_unknown_voi_function(tmp_path: Path, mammogram: np.ndarray) -> None:
    path = write_dicom(tmp_path / "scan.dcm", mammogram, VOILUTFunction="GAMMA")
    with pytest.raises(DataFormatError, match="scan.dcm.*GAMMA"):
        read_dicom(path)


def test_metadata(tmp_path: Path, mammogram: np.ndarray) -> None:
    path = write_dicom(
        tmp_path / "scan.dcm", mammogram, photometric="MONOCHROME1", bits_stored=14,
        laterality="R", view="MLO", patient_id="P0042", study_date="20191231",
        pixel_spacing=(0.07, 0.065), manufacturer="ACME", BurnedInAnnotation="YES",
        PresentationIntentType="FOR PROCESSING",
    )
    image = read_dicom(path)
    assert image.patient_id == "P0042"
    assert image.study_date == datetime.date(2019, 12, 31)
    assert (image.laterality, image.view) == ("R", "MLO")
    assert (image.photometric, image.bits_stored) == ("MONOCHROME1", 14)
    assert image.pixel_spacing == (0.07, 0.065)
    assert image.manufacturer == "ACME"
    assert image.presentation_intent == "FOR PROCESSING"
    assert image.burned_in_annotation is True
    assert image.path == path


def test_metadata_fallbacks(tmp_path: Path, mammogram: np.ndarray) -> None:
    path = write_dicom(
        tmp_path / "scan.dcm", mammogram, pixel_spacing=None, ImagerPixelSpacing=[0.085, 0.085],
        ImageLaterality=None, Laterality="R", BurnedInAnnotation=None, Manufacturer=None,
    )
    image = read_dicom(path)
    assert image.pixel_spacing == (0.085, 0.085)
    assert image.laterality == "R"
    assert image.burned_in_annotation is None and image.manufacturer is None


@pytest.mark.filterwarnings("ignore:Invalid value for VR DA:UserWarning")
def test_metadata_malformed_is_none_with_warning(
    tmp_path: Path, mammogram: np.ndarray, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_dicom(tmp_path / "scan.dcm", mammogram, ViewPosition="", pixel_spacing=None)
    ds = pydicom.dcmread(path)
    ds.StudyDate = "2020"  # a valid DA string is 8 digits
    ds.save_as(path)
    with caplog.at_level(logging.WARNING, logger="histomammo"):
        image = read_dicom(path)
    assert image.study_date is None and image.view is None and image.pixel_spacing is None
    assert "StudyDate" in caplog.text


def test_gzip_detected_by_magic_bytes(tmp_path: Path, mammogram: np.ndarray) -> None:
    plain = write_dicom(tmp_path / "plain.dcm", mammogram)
    hidden = write_dicom(tmp_path / "no_gz_suffix.dcm", mammogram, gzip=True)
    assert hidden.read_bytes()[:2] == b"\x1f\x8b"
    misnamed = tmp_path / "not_really.dcm.gz"
    misnamed.write_bytes(plain.read_bytes())
    for path in (hidden, misnamed):
        np.testing.assert_array_equal(read_dicom(path).pixels, read_dicom(plain).pixels)


@pytest.mark.filterwarnings("ignore:Invalid value for VR IS:UserWarning")
def test_exception_corrupt_pixel_module() -> None:
    # Number of Frames is stored as the Integer String '1A': refused before decoding.
    with pytest.raises(DataFormatError, match=r"badVR.dcm: NumberOfFrames is '1A'; expected an"):
        read_dicom(bundled("badVR.dcm"))


@pytest.mark.parametrize("implicit_vr", [True, False])
def test_bare_data_set_without_preamble(
    tmp_path: Path, mammogram: np.ndarray, implicit_vr: bool
) -> None:
    # Old ACR-NEMA style: no preamble, no 'DICM', no file meta; the encoding is inferred.
    part10 = write_dicom(tmp_path / "part10.dcm", mammogram, photometric="MONOCHROME1")
    ds = pydicom.dcmread(part10)
    ds.file_meta, ds.preamble = FileMetaDataset(), None
    bare = tmp_path / "bare.dcm"
    ds.save_as(bare, implicit_vr=implicit_vr, little_endian=True)
    assert bare.read_bytes()[128:132] != b"DICM"
    np.testing.assert_array_equal(read_dicom(bare, raw=True).pixels, mammogram)
    np.testing.assert_array_equal(read_dicom(bare).pixels, read_dicom(part10).pixels)

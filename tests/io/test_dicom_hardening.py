"""read_dicom on the malformed files fuzzing found: each case raises DataFormatError naming the
file, what was found and what was expected, never a raw pydicom exception or silent garbage."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from histomammo.datasets.synthetic import synthetic_mammogram, write_dicom
from histomammo.errors import DataFormatError
from histomammo.io import _dicom_display, _dicom_file, dicom
from histomammo.io.dicom import read_dicom


def bundled(name: str) -> Path:
    found = get_testdata_file(name, download=False)
    assert found is not None, f"pydicom test file {name} is not bundled"
    return Path(found)


@pytest.fixture
def scan(tmp_path: Path, rng: np.random.Generator) -> Path:
    """A valid 64 x 48 12-bit MONOCHROME2 mammogram with a window."""
    return write_dicom(tmp_path / "scan.dcm", synthetic_mammogram((64, 48), rng, bits_stored=12))


def edited(source: Path, target: Path, **values: object) -> Path:
    """``source`` with data elements set (None deletes), written unchecked to ``target``."""
    ds = pydicom.dcmread(source)
    for keyword, value in values.items():
        if value is None:
            delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    ds.save_as(target, enforce_file_format=False)
    return target


def test_rle_frame_count_beyond_fragments(tmp_path: Path) -> None:
    # pydicom's RLE frame generator raised StopIteration here.
    path = edited(bundled("MR_small_RLE.dcm"), tmp_path / "rle.dcm", NumberOfFrames=15)
    with pytest.raises(DataFormatError, match=r"rle.dcm: NumberOfFrames is 15 but .* 1 fragment"):
        read_dicom(path)


def test_stop_iteration_from_decoder_is_translated(
    tmp_path: Path, scan: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def exhausted(self: object) -> np.ndarray:
        raise StopIteration

    monkeypatch.setattr(pydicom.dataset.Dataset, "pixel_array", property(exhausted))
    with pytest.raises(DataFormatError, match="scan.dcm: cannot decode the pixel data: Stop"):
        read_dicom(scan)


def test_huge_frame_count_refused_before_allocation(tmp_path: Path, scan: Path) -> None:
    # "800 GiB": a MemoryError before; now the length check refuses it at once.
    path = edited(scan, tmp_path / "frames.dcm", NumberOfFrames=2**31 - 1)
    with pytest.raises(DataFormatError, match=r"frames.dcm: Pixel Data holds 6144 bytes; "
                       r"expected 13194139527168 for 2147483647 frame"):
        read_dicom(path)


@pytest.mark.parametrize("frames", [0, -1, "1.5"])
def test_invalid_frame_count(tmp_path: Path, scan: Path, frames: object) -> None:
    path = edited(scan, tmp_path / "frames.dcm", NumberOfFrames=frames)
    with pytest.raises(DataFormatError, match=r"frames.dcm: (NumberOfFrames is|unreadable)"):
        read_dicom(path)


@pytest.mark.parametrize(
    ("keyword", "value"),
    [("Rows", 32), ("Columns", 47), ("BitsAllocated", 8), ("SamplesPerPixel", 3)],
)
def test_header_disagrees_with_pixel_data_length(
    tmp_path: Path, scan: Path, keyword: str, value: int
) -> None:
    # Rows=32 on a 64-row image was read as (2, 32, 48).
    extra = {"PlanarConfiguration": 0} if keyword == "SamplesPerPixel" else {}
    if keyword == "BitsAllocated":
        extra["BitsStored"] = 8
    path = edited(scan, tmp_path / "edit.dcm", **{keyword: value}, **extra)
    with pytest.raises(DataFormatError, match=r"edit.dcm: Pixel Data holds 6144 bytes; expected"):
        read_dicom(path, raw=True)


@pytest.mark.parametrize(
    ("keyword", "value", "match"),
    [
        ("Rows", 0, "Rows is 0; expected an integer in 1..65535"),
        ("SamplesPerPixel", 0, "SamplesPerPixel is 0; expected an integer in 1..4"),
        ("BitsAllocated", 12, "BitsAllocated is 12; expected 1, 8, 16, 32 or 64"),
        ("BitsStored", 17, "BitsStored is 17; expected an integer in 1..16"),
        ("PixelRepresentation", 2, "PixelRepresentation is 2; expected an integer in 0..1"),
    ],
)
def test_invalid_image_pixel_module(
    tmp_path: Path, scan: Path, keyword: str, value: int, match: str
) -> None:
    path = edited(scan, tmp_path / "edit.dcm", **{keyword: value})
    with pytest.raises(DataFormatError, match=f"edit.dcm: {match}"):
        read_dicom(path)


def test_planar_configuration_of_colour_image(tmp_path: Path) -> None:
    path = edited(bundled("SC_rgb_rle_2frame.dcm"), tmp_path / "rgb.dcm", PlanarConfiguration=3)
    with pytest.raises(DataFormatError, match="rgb.dcm: PlanarConfiguration is 3; expected"):
        read_dicom(path, raw=True)


def test_pixel_data_longer_than_header(tmp_path: Path, scan: Path) -> None:
    ds = pydicom.dcmread(scan)
    ds.PixelData = ds.PixelData + bytes(96)
    ds.save_as(tmp_path / "long.dcm")
    with pytest.raises(DataFormatError, match="long.dcm: Pixel Data holds 6240 bytes; expected 6144"):
        read_dicom(tmp_path / "long.dcm")


@pytest.mark.parametrize(
    ("keyword", "value"),
    [("RescaleSlope", "NaN"), ("RescaleIntercept", "inf"), ("RescaleSlope", "1e308"),
     ("RescaleIntercept", "1e308"), ("WindowCenter", "NaN"), ("WindowWidth", "-inf")],
)
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_non_finite_rescale_or_window_refused(
    tmp_path: Path, scan: Path, keyword: str, value: str
) -> None:
    extra = {"RescaleSlope": "1", "RescaleIntercept": "0"} if keyword.startswith("Rescale") else {}
    path = edited(scan, tmp_path / "values.dcm", **{**extra, keyword: value})
    with pytest.raises(DataFormatError, match=r"values.dcm: (Rescale|Window|the rescale)"):
        read_dicom(path)
    assert read_dicom(path, raw=True).pixels.shape == (64, 48)  # stored values are fine


def test_window_huge_center_gives_finite_values(tmp_path: Path, scan: Path) -> None:
    path = edited(scan, tmp_path / "window.dcm", WindowCenter="1e308", WindowWidth="100")
    pixels = read_dicom(path).pixels
    assert np.isfinite(pixels).all() and pixels.shape == (64, 48)


def _with_vr(data: bytes, tag: bytes, vr: bytes, new_vr: bytes) -> bytes:
    at = data.index(tag + vr)
    return data[: at + 4] + new_vr + data[at + 6 :]


def test_unknown_vr_outside_the_decoder(tmp_path: Path, scan: Path) -> None:
    # Photometric Interpretation (0028,0004) with the VR 'ZZ': pydicom raises
    # NotImplementedError("Unknown VR") on first access, which ran outside the error wrapper.
    path = tmp_path / "vr.dcm"
    path.write_bytes(_with_vr(scan.read_bytes(), b"\x28\x00\x04\x00", b"CS", b"ZZ"))
    with pytest.raises(DataFormatError, match=r"vr.dcm: .*NotImplementedError: Unknown Value "
                       r"Representation 'ZZ' in tag \(0028,0004\)"):
        read_dicom(path)


def test_zero_tail_is_not_parsed(
    tmp_path: Path, scan: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 32 MiB of zeros after the Pixel Data took 11.5 s to parse as 4 million empty elements;
    # the parser now stops at the first element after the Pixel Data (the time is quoted in
    # docs/bad-input.md; tests make no timing assertions).
    path = tmp_path / "tail.dcm"
    path.write_bytes(scan.read_bytes() + bytes(32 << 20))
    calls = []
    make_stop = _dicom_file._stop_after_pixel_data

    def counting() -> object:
        stop = make_stop()
        return lambda *args: calls.append(args[0]) or stop(*args)

    monkeypatch.setattr(_dicom_file, "_stop_after_pixel_data", counting)
    expected = read_dicom(scan).pixels
    without_tail = len(calls)
    np.testing.assert_array_equal(read_dicom(path).pixels, expected)
    # One element header more than the file without its tail: (0000,0000), not read.
    assert len(calls) - without_tail == without_tail + 1
    assert calls[-1] == 0


def test_gzip_bomb_refused(tmp_path: Path, scan: Path) -> None:
    path = tmp_path / "bomb.dcm.gz"
    path.write_bytes(gzip.compress(scan.read_bytes() + bytes(8 << 20), compresslevel=1))
    with pytest.raises(DataFormatError, match=r"bomb.dcm.gz: the gzip stream expands to more "
                       r"than 1048576 bytes \(max_decompressed_bytes\)"):
        read_dicom(path, max_decompressed_bytes=1 << 20)
    assert read_dicom(path).pixels.shape == (64, 48)  # within the default limit
    assert dicom.DEFAULT_MAX_DECOMPRESSED_BYTES == 1 << 30


def test_gzip_bomb_of_concatenated_members_fails_fast(tmp_path: Path, scan: Path) -> None:
    # 5 GiB of zeros in a 5 MB file of 16 MiB gzip members: refused after the limit.
    member = gzip.compress(bytes(16 << 20), compresslevel=9)
    path = tmp_path / "bomb.dcm.gz"
    path.write_bytes(gzip.compress(scan.read_bytes()) + member * 320)
    with pytest.raises(DataFormatError, match="bomb.dcm.gz: the gzip stream expands"):
        read_dicom(path, max_decompressed_bytes=32 << 20)


def test_bad_limit_argument(scan: Path) -> None:
    with pytest.raises(ValueError, match="max_decompressed_bytes must be positive"):
        read_dicom(scan, max_decompressed_bytes=0)


def test_declared_decoded_size_beyond_limit(tmp_path: Path) -> None:
    path = edited(bundled("MR_small_RLE.dcm"), tmp_path / "rle.dcm")
    with pytest.raises(DataFormatError, match=r"rle.dcm: the header declares 8192 bytes of "
                       r"decoded pixels .* more than max_decompressed_bytes=4096"):
        read_dicom(path, max_decompressed_bytes=4096)


def test_programming_errors_are_not_translated(
    scan: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A bug in the library (here: a broken helper) must surface as itself.
    def broken(*args: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(_dicom_display, "_voi_in_unit_range", broken)
    with pytest.raises(ZeroDivisionError, match="a bug"):
        read_dicom(scan)


def test_unknown_vr_of_pixel_data(tmp_path: Path, scan: Path) -> None:
    # Found by `make fuzz`: pydicom converts Pixel Data on first access and raises
    # NotImplementedError for a VR it does not know.
    path = tmp_path / "vr.dcm"
    path.write_bytes(_with_vr(scan.read_bytes(), b"\xe0\x7f\x10\x00", b"OW", b"O9"))
    with pytest.raises(DataFormatError, match=r"vr.dcm: .*(NotImplementedError: Unknown Value "
                       r"Representation|Pixel Data holds)"):
        read_dicom(path)

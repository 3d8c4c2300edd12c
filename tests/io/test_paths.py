"""Every reader treats a missing path and a directory alike."""

from __future__ import annotations

import pytest

from histomammo.errors import DataFormatError, MissingFileError
from histomammo.io import H5Array, TiffImage, read_dicom

READERS = {
    "dicom": read_dicom,
    "tiff": TiffImage,
    "hdf5": lambda path: H5Array(path, "x"),
}


@pytest.mark.parametrize("reader", sorted(READERS))
def test_missing_file_is_both_builtin_and_histomammo_error(tmp_path, reader):
    path = tmp_path / f"absent.{reader}"
    with pytest.raises(MissingFileError, match=rf"absent\.{reader}: no such file") as info:
        READERS[reader](path)
    assert isinstance(info.value, FileNotFoundError)
    assert isinstance(info.value, DataFormatError)


@pytest.mark.parametrize("reader", sorted(READERS))
def test_directory_is_refused_naming_it(tmp_path, reader):
    folder = tmp_path / f"folder.{reader}"
    folder.mkdir()
    with pytest.raises(DataFormatError, match=rf"folder\.{reader}: not a regular file"):
        READERS[reader](folder)

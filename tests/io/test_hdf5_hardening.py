"""H5Array on damaged files and on files that change while open: the library's own error
naming the file, never a raw h5py exception, zeros or stale bytes."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import h5py
import numpy as np
import pytest

from histomammo.errors import DataFormatError
from histomammo.io import _h5_file, hdf5
from histomammo.io.hdf5 import H5Array


def write(path: Path, data: np.ndarray, **layout: object) -> Path:
    with h5py.File(path, "w") as file:
        file.create_dataset("x", data=data, **layout)
    return path


@pytest.fixture
def reference() -> np.ndarray:
    return np.random.default_rng(3).integers(1, 255, (32, 16, 16), dtype=np.uint8)


LAYOUTS = {"contiguous": {}, "chunked": {"chunks": (1, 16, 16), "compression": "gzip"}}


def test_message_building_survives_a_damaged_group(
    tmp_path: Path, reference: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Listing file.keys() of a damaged group inside the except branch raised RuntimeError.
    path = write(tmp_path / "a.h5", reference)

    def damaged(self: object) -> None:
        raise RuntimeError("Unable to get group info (bad local heap signature)")

    monkeypatch.setattr(h5py.Group, "keys", damaged)
    with pytest.raises(DataFormatError, match=r"a.h5: no dataset 'y' .* found at the top level: "
                       r"\(unreadable: RuntimeError: Unable to get group info"):
        H5Array(path, "y")


def test_unreadable_storage_layout(tmp_path: Path) -> None:
    # H5Dget_offset raised RuntimeError on a damaged layout message.
    def get_offset() -> int:
        raise RuntimeError("Can't get offset (unable to get storage layout)")

    dataset = SimpleNamespace(dtype=np.dtype(np.uint8), name="/x",
                              id=SimpleNamespace(get_offset=get_offset))
    file = SimpleNamespace(driver="sec2", filename=str(tmp_path / "a.h5"))
    with pytest.raises(DataFormatError, match=r"a.h5: the storage layout of '/x' is unreadable "
                       r"\(Can't get offset"):
        _h5_file.contiguous_offset(file, dataset)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_truncated_between_reads(tmp_path: Path, reference: np.ndarray, layout: str) -> None:
    # A chunked file truncated between two reads returned zeros for the missing part.
    path = write(tmp_path / "a.h5", reference, **LAYOUTS[layout])
    array = H5Array(path, "x")
    np.testing.assert_array_equal(array[:4], reference[:4])
    os.truncate(path, path.stat().st_size // 2)
    with pytest.raises(DataFormatError, match="a.h5: the file changed on disk since"):
        array[[30, 1]]
    reopening = H5Array(path, "x", reopen_on_change=True)
    with pytest.raises(DataFormatError, match=r"a.h5: (cannot be opened as HDF5|the data of|"
                       r"reading 'x' failed|\d+ chunk\(s\) of '/x' are corrupt)"):
        reopening[30]


def _rewrite_in_place(path: Path, data: np.ndarray, layout: dict) -> None:
    """New content over the same inode, as ``h5py.File(path, "w")`` from another process does."""
    stat = os.stat(path)
    content = write(path.with_suffix(".new"), data, **layout).read_bytes()
    with open(path, "r+b") as handle:
        handle.write(content)
        handle.truncate()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # coarse clocks
    assert os.stat(path).st_ino == stat.st_ino


@pytest.mark.parametrize("layout", LAYOUTS)
def test_rewritten_in_place(tmp_path: Path, reference: np.ndarray, layout: str) -> None:
    # Stale or unrelated bytes were returned from a file rewritten under the reader.
    path = write(tmp_path / "a.h5", reference, **LAYOUTS[layout])
    array, reopening = H5Array(path, "x"), H5Array(path, "x", reopen_on_change=True)
    np.testing.assert_array_equal(array[0], reference[0])
    np.testing.assert_array_equal(reopening[0], reference[0])
    _rewrite_in_place(path, 255 - reference, LAYOUTS[layout])
    with pytest.raises(DataFormatError, match="a.h5: the file changed on disk since .*"
                       "reopen_on_change=True"):
        array[0]
    # HDF5 shares one open file (and its caches) between the handles of a process: the
    # stale handle must be closed before another reopens the file.
    array.close()
    np.testing.assert_array_equal(reopening[[5, 0]], 255 - reference[[5, 0]])
    reopening.close()
    with pytest.raises(DataFormatError, match="a.h5: the file changed on disk"):
        array[0]  # reopening after close() is refused too: not the file first seen


def test_replaced_by_rename(tmp_path: Path, reference: np.ndarray) -> None:
    path = write(tmp_path / "a.h5", reference)
    array, reopening = H5Array(path, "x"), H5Array(path, "x", reopen_on_change=True)
    array[0], reopening[0]
    os.replace(write(tmp_path / "new.h5", reference[::-1].copy()), path)
    with pytest.raises(DataFormatError, match=r"a.h5: the file changed on disk .* inode \d+ -> "):
        array[0]
    array.close()
    np.testing.assert_array_equal(reopening[0], reference[-1])


def test_reopened_file_must_keep_shape(tmp_path: Path, reference: np.ndarray) -> None:
    path = write(tmp_path / "a.h5", reference)
    reopening = H5Array(path, "x", reopen_on_change=True)
    reopening[0]
    os.replace(write(tmp_path / "new.h5", reference[:3]), path)
    with pytest.raises(DataFormatError, match=r"a.h5: 'x' is now \(3, 16, 16\) uint8; expected"):
        reopening[0]


def test_removed_while_open(tmp_path: Path, reference: np.ndarray) -> None:
    path = write(tmp_path / "a.h5", reference)
    array = H5Array(path, "x")
    array[0]
    path.unlink()
    with pytest.raises(DataFormatError, match="a.h5: the file is gone since it was opened"):
        array[0]


def test_programming_errors_are_not_translated(
    tmp_path: Path, reference: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "a.h5", reference, chunks=(1, 16, 16))
    array = H5Array(path, "x")

    def broken(*args: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(hdf5, "row_index", broken)
    with pytest.raises(ZeroDivisionError, match="a bug"):
        array[[1, 2]]

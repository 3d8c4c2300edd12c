"""Tests of histomammo.io.hdf5: numpy indexing parity, per-process handles, bad files."""

from __future__ import annotations

import multiprocessing
import os
import pickle
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from histomammo.errors import DataFormatError
from histomammo.io import H5Array, hdf5

SHAPE = (12, 5, 4, 3)

# How the dataset is stored decides how H5Array reads it: contiguous numeric data through a
# memory map, anything else through h5py. Every layout must index the same.
LAYOUTS = {
    "contiguous": {},
    "chunked-gzip": {"chunks": (5, 5, 4, 3), "compression": "gzip"},
    "big-endian-float": {"dtype": ">f4"},
    "userblock": {"userblock_size": 512},
    "chunk-per-row": {"chunks": (1, 5, 4, 3), "dtype": ">i2"},
    "byte-strings": {"dtype": "S3"},
}

KEYS = [
    0, -1, 11, np.int64(3), np.array(4),
    slice(None), slice(2, 7), slice(None, None, -1), slice(9, 1, -3), slice(1, 11, 3),
    slice(5, 5), slice(-3, None), slice(100, 200), slice(None, None, 5),
    [3, 1, 3, 0], [11, 0], [], ([4, 5, 6],), np.array([[1, 2], [3, 11]]), np.array([-1, -12]),
    np.arange(12) % 3 == 0, [10, 2, 10, 2, 7, 8, 9], np.arange(12)[::-1],
    (2, 1), (2, ..., 0), (slice(1, 4), 1, slice(None, None, 2)), ([4, 2, 2], 0),
    ([4, 2], slice(None), [1, 0]), (0, slice(None), [1, 2]), (3, -1, -1, -1),
    ..., (..., 1), (None, 1), (1, None), (), True,
    (slice(None), [0, 3], [1, 2]), ([1, 5, 1], ..., [2, 0, 2]),
    (slice(0, 12, 4), slice(None, None, -1)), ([0, 9], 2, slice(1, 3)),
    (np.arange(12) < 2, 0), ([7, 3, 5], 1, 2, 0), (slice(2, 9), 4, 3),
]  # fmt: skip


def _write(path: Path, reference: np.ndarray, key: str = "x", **layout: object) -> Path:
    file_options = {k: layout.pop(k) for k in ["userblock_size"] if k in layout}
    with h5py.File(path, "w", **file_options) as file:
        file.create_dataset(key, data=reference, **layout)
    return path


@pytest.fixture(scope="module", params=list(LAYOUTS))
def stored(request, tmp_path_factory) -> tuple[H5Array, np.ndarray]:
    """(H5Array, the numpy array it holds), one per storage layout."""
    layout = dict(LAYOUTS[request.param])
    dtype = layout.pop("dtype", np.uint8)
    reference = np.random.default_rng(0).integers(0, 255, SHAPE).astype(dtype)
    path = _write(tmp_path_factory.mktemp(request.param) / "a.h5", reference, **layout)
    array = H5Array(path, "x")
    yield array, reference
    array.close()


@pytest.fixture(params=["slab", "run by run"])
def read_strategy(request, monkeypatch) -> None:
    """h5py path: read nearby rows as one slab (the default for small rows) or run by run."""
    if request.param == "run by run":
        monkeypatch.setattr(hdf5, "_SLAB_BYTES", 0)
        monkeypatch.setattr(hdf5, "_SLAB_OVERREAD", 0)


def _assert_same(got: object, expected: object) -> None:
    assert type(got) is type(expected)
    assert np.shape(got) == np.shape(expected)
    assert np.asarray(got).dtype == np.asarray(expected).dtype
    np.testing.assert_array_equal(got, expected)


def test_smoke(stored) -> None:
    array, reference = stored
    assert (array.shape, array.dtype, array.ndim, len(array)) == (
        reference.shape, reference.dtype, reference.ndim, len(reference))  # fmt: skip
    _assert_same(np.asarray(array), reference)
    _assert_same(np.asarray(array, dtype=np.float64), reference.astype(np.float64))
    assert "H5Array(" in repr(array) and str(SHAPE) in repr(array)


def test_contiguous_data_is_memory_mapped(stored) -> None:
    array, _ = stored
    opened = array._handle()
    mappable = opened.dataset.chunks is None and array.dtype.kind in "iuf"
    assert (opened.mapped is not None) == mappable


def test_falls_back_to_h5py_when_mapping_fails(tmp_path, monkeypatch) -> None:
    def refuse(*args):
        raise OSError("mmap: no such device")

    monkeypatch.setattr(hdf5, "map_array", refuse)  # the name hdf5.py calls
    reference = np.arange(40, dtype=np.float32).reshape(10, 4)
    array = H5Array(_write(tmp_path / "a.h5", reference), "x")
    _assert_same(array[[9, 0, 9]], reference[[9, 0, 9]])
    assert array._handle().mapped is None


def test_results_are_copies(stored) -> None:
    array, reference = stored
    mapped = array._handle().mapped
    for key in (slice(0, 3), 2, (4, 1), [5, 6], ...):
        result = array[key]
        assert result.flags.writeable
        assert mapped is None or not np.may_share_memory(result, mapped)
        result[...] = 0
    _assert_same(np.asarray(array), reference)


@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_matches_reference(stored, read_strategy, key) -> None:
    array, reference = stored
    _assert_same(array[key], reference[key])


@pytest.mark.parametrize(
    "key",
    [12, -13, [0, 12], [-13], (0, 5), (0, 0, 0, 0, 0), (slice(None), 9), 1.5, "a",
     np.array([1.0]), np.array([True, False]), ([0], slice(None), [7])],
    ids=repr,
)  # fmt: skip
def test_exception_index(stored, key) -> None:
    array, reference = stored
    with pytest.raises(IndexError) as numpy_error:
        reference[key]
    with pytest.raises(IndexError) as our_error:
        array[key]
    for words in ("out of bounds", "too many indices", "valid indices", "integer (or boolean)"):
        if words in str(numpy_error.value):
            assert words in str(our_error.value)


def test_getitems_reads_a_batch(stored) -> None:
    array, reference = stored
    rows = array.__getitems__([7, 2, 7, 11])
    assert isinstance(rows, list) and len(rows) == 4
    for row, index in zip(rows, [7, 2, 7, 11], strict=True):
        _assert_same(row, reference[index])


def test_pickle_round_trip(stored) -> None:
    array, reference = stored
    array[0]  # hold an open handle: it must not travel
    clone = pickle.loads(pickle.dumps(array))
    assert clone._opened is None and array._opened is not None
    assert (clone.path, clone.key, clone.shape, clone.dtype) == (
        array.path, array.key, array.shape, array.dtype)  # fmt: skip
    _assert_same(clone[[5, 1]], reference[[5, 1]])
    _assert_same(array[3], reference[3])
    clone.close()


def test_close_and_context_manager(tmp_path) -> None:
    reference = np.arange(24, dtype=np.int16).reshape(6, 4)
    path = _write(tmp_path / "a.h5", reference)
    with H5Array(path, "x") as array:
        _assert_same(array[2], reference[2])
        file = array._opened.file
    assert array._opened is None and not file.id.valid
    array.close()  # closing twice is fine
    _assert_same(array[-1], reference[-1])  # and a read opens the file again
    array.close()


def _count_opens(monkeypatch) -> list[int]:
    """Record the pid of every h5py.File opened by histomammo.io.hdf5."""
    opens: list[int] = []
    real_file = h5py.File

    def counting_file(*args, **kwargs):
        opens.append(os.getpid())
        return real_file(*args, **kwargs)

    monkeypatch.setattr(hdf5.h5py, "File", counting_file, raising=True)
    return opens


def _read_in_child(array: H5Array, opens: list[int], pipe) -> None:
    before = len(opens)
    for index in (0, 3, 5, 3):
        array[index]
    pipe.send((len(opens) - before, array._opened.pid == os.getpid(), array[[2, 1]].tolist()))


def test_opens_file_once_per_process(tmp_path, monkeypatch) -> None:
    reference = np.arange(60, dtype=np.uint8).reshape(10, 6)
    path = _write(tmp_path / "a.h5", reference)
    real_file = h5py.File
    opens = _count_opens(monkeypatch)
    array = H5Array(path, "x")
    assert opens == [os.getpid()]  # the constructor validates, then closes
    handle = array._handle().file
    for index in range(10):
        array[index]
    array[[3, 1, 4]]
    assert len(opens) == 2 and array._handle().file is handle
    assert isinstance(handle, real_file)

    receive, send = multiprocessing.Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(
        target=_read_in_child, args=(array, opens, send)
    )
    child.start()
    opened_in_child, child_owns_handle, rows = receive.recv()
    child.join(timeout=60)
    assert child.exitcode == 0
    assert opened_in_child == 1 and child_owns_handle
    assert rows == reference[[2, 1]].tolist()
    # The child dropped the inherited handle without closing the parent's file.
    assert handle.id.valid and len(opens) == 2
    _assert_same(array[7], reference[7])


class IndexedRows(Dataset):
    """(index, row) pairs, fetched a batch at a time through H5Array.__getitems__."""

    def __init__(self, array: H5Array) -> None:
        self.array = array

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, index: int) -> tuple[int, np.ndarray]:
        return index, self.array[index]

    def __getitems__(self, indices: list[int]) -> list[tuple[int, np.ndarray]]:
        return list(zip(indices, self.array.__getitems__(indices), strict=True))


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_dataloader_workers_read_every_sample_once(tmp_path, context) -> None:
    reference = np.random.default_rng(1).integers(0, 255, (50, 6, 6, 3), dtype=np.uint8)
    array = H5Array(_write(tmp_path / "a.h5", reference), "x")
    array[0]  # the parent holds a handle, which forked workers must not share
    loader = DataLoader(
        IndexedRows(array),
        batch_size=8,
        shuffle=True,
        num_workers=2,
        multiprocessing_context=context,
        generator=torch.Generator().manual_seed(0),
    )
    seen = []
    for indices, rows in loader:
        np.testing.assert_array_equal(rows.numpy(), reference[indices.numpy()])
        seen.extend(indices.tolist())
    assert sorted(seen) == list(range(len(reference)))
    assert seen != sorted(seen)  # shuffled
    array.close()


def test_dataloader_batches_match(tmp_path) -> None:
    reference = np.random.default_rng(2).integers(0, 255, (30, 4, 4), dtype=np.uint8)
    array = H5Array(_write(tmp_path / "a.h5", reference), "x")
    order = torch.randperm(30, generator=torch.Generator().manual_seed(3)).tolist()
    loader = DataLoader(array, batch_size=7, sampler=order)
    batches = [batch.numpy() for batch in loader]
    np.testing.assert_array_equal(np.concatenate(batches), reference[order])


def test_exception_bad_files(tmp_path) -> None:
    with pytest.raises(DataFormatError, match=r"missing\.h5: no such file"):
        H5Array(tmp_path / "missing.h5", "x")

    text = tmp_path / "notes.h5"
    text.write_text("not HDF5 at all\n")
    with pytest.raises(DataFormatError, match=r"notes\.h5: cannot be opened as HDF5"):
        H5Array(text, "x")
    with pytest.raises(DataFormatError, match="not a regular file"):
        H5Array(tmp_path, "x")  # a directory

    path = _write(tmp_path / "a.h5", np.zeros((40, 64), np.uint8))
    with h5py.File(path, "a") as file:
        file.create_group("patches")
        file["scalar"] = 3.0
    with pytest.raises(DataFormatError, match=r"a\.h5: no dataset 'y'.*found .*'patches'"):
        H5Array(path, "y")
    with pytest.raises(DataFormatError, match=r"a\.h5: 'patches' is a Group, expected a dataset"):
        H5Array(path, "patches")
    with pytest.raises(DataFormatError, match=r"'scalar' is a scalar"):
        H5Array(path, "scalar")

    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataFormatError, match=r"truncated\.h5: cannot be opened as HDF5"):
        H5Array(truncated, "x")


def test_exception_file_changed_after_construction(tmp_path) -> None:
    path = _write(tmp_path / "a.h5", np.zeros((40, 64), np.uint8))
    array = H5Array(path, "x")
    _write(path, np.zeros((41, 64), np.uint8))
    with pytest.raises(DataFormatError, match=r"a\.h5: 'x' is now \(41, 64\) uint8"):
        array[0]

    path.write_bytes(path.read_bytes()[:3000])
    with pytest.raises(DataFormatError, match=r"a\.h5: cannot be opened as HDF5"):
        array[0]


def test_exception_corrupt_chunk(tmp_path) -> None:
    reference = np.random.default_rng(4).integers(0, 255, (8, 32, 32), dtype=np.uint8)
    path = _write(tmp_path / "a.h5", reference, chunks=(1, 32, 32), compression="gzip")
    with h5py.File(path, "r") as file:
        chunk = file["x"].id.get_chunk_info(2)
    with open(path, "r+b") as raw:
        raw.seek(chunk.byte_offset)
        raw.write(b"\xff" * chunk.size)
    array = H5Array(path, "x")
    _assert_same(array[1], reference[1])
    with pytest.raises(DataFormatError, match=r"a\.h5: reading 'x' failed"):
        array[2]
    with pytest.raises(DataFormatError, match=r"a\.h5: reading 'x' failed"):
        array[[5, 2]]


def test_exception_truncated_while_open(tmp_path) -> None:
    path = _write(tmp_path / "a.h5", np.ones((64, 1024), np.uint8))
    array = H5Array(path, "x")
    _assert_same(array[[3, 60]], np.ones((2, 1024), np.uint8))
    reopening = H5Array(path, "x", reopen_on_change=True)
    _assert_same(reopening[[3, 60]], np.ones((2, 1024), np.uint8))
    os.truncate(path, path.stat().st_size // 2)  # rewritten in place, under a reader's feet
    for key in (50, [3, 60], slice(None)):
        with pytest.raises(DataFormatError, match=r"a\.h5: the file changed on disk since"):
            array[key]
        with pytest.raises(DataFormatError, match=r"a\.h5: the data of 'x' ends at byte \d+"):
            reopening[key]

"""The HDF5 file underneath an [`H5Array`][histomammo.io.hdf5.H5Array]: opening it with typed
errors, finding its dataset, checking chunk indices against the file's size and memory-mapping
contiguous datasets (the layout facts; ``hdf5.py`` keeps the array's indexing)."""

from __future__ import annotations

import mmap
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from h5py import h5t

from histomammo.errors import DataFormatError
from histomammo.io._paths import require_file

__all__ = ["H5_ERRORS", "check_chunk_index", "contiguous_offset", "find_dataset", "map_array",
           "open_file", "top_level"]

# What h5py raises on a damaged file (HDF5 error stacks become these): caught only around
# calls into h5py, never around this module's own indexing code.
H5_ERRORS = (OSError, KeyError, ValueError, RuntimeError, TypeError)

def open_file(path: Path) -> h5py.File:
    """Open ``path`` read-only, turning every h5py failure into DataFormatError."""
    require_file(path, "an HDF5 file")
    try:
        return h5py.File(path, "r")
    except H5_ERRORS as err:
        raise DataFormatError(
            f"{path}: cannot be opened as HDF5 ({err}); expected a complete, readable HDF5 file"
        ) from err


def find_dataset(file: h5py.File, path: Path, key: str) -> h5py.Dataset:
    """Return ``file[key]``, or raise DataFormatError naming the file, the key and what exists."""
    try:
        node = file[key]
    except H5_ERRORS as err:
        raise DataFormatError(
            f"{path}: no dataset {key!r} ({err}); found at the top level: {top_level(file)}"
        ) from err
    if not isinstance(node, h5py.Dataset):
        raise DataFormatError(
            f"{path}: {key!r} is a {type(node).__name__}, expected a dataset (an array)"
        )
    try:
        ndim = node.ndim
        node.dtype  # noqa: B018 -- an unreadable datatype message fails here, not later
    except H5_ERRORS as err:
        raise DataFormatError(
            f"{path}: {key!r} has an unreadable dataspace or datatype ({err}); the file may be "
            "corrupt"
        ) from err
    if ndim == 0:
        raise DataFormatError(f"{path}: {key!r} is a scalar; expected an array of rows (ndim >= 1)")
    return node


def top_level(file: h5py.File) -> str:
    """The top-level names, for a message; a damaged group must not fail the message itself."""
    try:
        return ", ".join(repr(name) for name in file.keys()) or "nothing"
    except H5_ERRORS as err:
        return f"(unreadable: {type(err).__name__}: {err})"


def contiguous_offset(file: h5py.File, dataset: h5py.Dataset) -> int | None:
    """Byte offset of ``dataset``'s elements in the file, when the bytes there are the array.

    That holds for contiguous, allocated storage (HDF5 then reports an offset; chunked,
    compressed, compact and unwritten datasets have none) of a plain integer or float type
    whose file representation is exactly numpy's, in one file (the default sec2 driver),
    with no external storage. ``None`` means: read through h5py.
    """
    if os.name != "posix" or file.driver != "sec2" or dataset.dtype.kind not in "iuf":
        return None
    try:
        offset = dataset.id.get_offset()
        if offset is None or dataset.size == 0:
            return None
        if dataset.id.get_create_plist().get_external_count():
            return None
        if not dataset.id.get_type().equal(h5t.py_create(dataset.dtype)):
            return None
    except H5_ERRORS as err:  # e.g. RuntimeError from H5Dget_offset on a damaged header
        raise DataFormatError(
            f"{file.filename}: the storage layout of {dataset.name!r} is unreadable ({err}); "
            "the file may be corrupt"
        ) from err
    return offset


def check_chunk_index(dataset: h5py.Dataset, path: Path, file_size: int) -> None:
    """Refuse a chunk index whose entries point outside the file or at empty chunks.

    libhdf5 (1.14) segfaults when it runs the filter pipeline over a chunk whose size in
    a damaged B-tree reads 0; nothing a read raises can report that, so it is checked first.
    """
    if dataset.chunks is None:
        return
    bad: list[Any] = []

    def visit(info: Any) -> None:
        if not (info.size >= 1 and info.byte_offset is not None and info.byte_offset >= 1
                and info.byte_offset + info.size <= file_size):
            bad.append(info)

    try:
        dataset.id.chunk_iter(visit)
    except H5_ERRORS as err:
        raise DataFormatError(
            f"{path}: the chunk index of {dataset.name!r} is unreadable ({err}); the file may "
            "be corrupt"
        ) from err
    if bad:
        raise DataFormatError(
            f"{path}: {len(bad)} chunk(s) of {dataset.name!r} are corrupt, the first at "
            f"{bad[0].chunk_offset}: {bad[0].size} bytes at byte {bad[0].byte_offset} of a "
            f"{file_size}-byte file; expected non-empty chunks inside the file"
        )


def map_array(fd: int, offset: int, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A read-only array over ``shape`` x ``dtype`` bytes of file ``fd`` from ``offset``."""
    start = offset - offset % mmap.ALLOCATIONGRANULARITY
    count = int(np.prod(shape))
    mapping = mmap.mmap(
        fd, offset - start + count * dtype.itemsize, access=mmap.ACCESS_READ, offset=start
    )
    return np.frombuffer(mapping, dtype=dtype, count=count, offset=offset - start).reshape(shape)

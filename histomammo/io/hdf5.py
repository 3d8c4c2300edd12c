"""Lazy, picklable access to one HDF5 dataset, safe to hand to DataLoader workers.

[`H5Array`][histomammo.io.H5Array] reads rows of an on-disk array (such as PatchCamelyon's
``(N, 96, 96, 3)`` uint8 patches) on demand. It opens its file once per process, on first
access, and keeps it open; a forked child notices the inherited handle belongs to its
parent (by process id) and opens its own, and pickling drops the handle, so the same
object works in ``torch.utils.data.DataLoader`` workers under ``fork``, ``spawn`` and
``forkserver``.

Indexing follows numpy: ``a[i]``, ``a[i:j:k]`` (any step), negative indices, ``a[[j, i, j]]``
in any order with repeats, boolean masks, and multi-axis keys such as ``a[i, ..., 0]``.
h5py itself accepts only increasing, unique fancy indices and is slow with them, so rows
are read one contiguous run at a time and put in the requested order in memory.

Contiguous, unfiltered datasets of a plain numeric type (what ``h5py.File.create_dataset``
writes by default, and PatchCamelyon-like patch files) are read through a read-only memory
map of their bytes, at the offset HDF5 reports for them: a batch of rows then costs what
numpy fancy indexing costs, not one HDF5 call per row. Every result is a copy, never a view
of the file. Everything else (chunked, compressed, compound, ...) goes through h5py.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from histomammo.errors import DataFormatError
from histomammo.io._h5_file import (
    H5_ERRORS,
    check_chunk_index,
    contiguous_offset,
    find_dataset,
    map_array,
    open_file,
)
from histomammo.io._h5_index import check_in_bounds, is_integer, passes_to_h5py, row_index
from histomammo.io._paths import FileStamp, file_stamp

__all__ = ["H5Array"]

logger = logging.getLogger("histomammo")

# A sorted set of rows spanning at most this many bytes (or at most this many times the
# bytes asked for) is read as one slab and indexed in memory: one HDF5 call beats many.
_SLAB_BYTES = 1 << 20
_SLAB_OVERREAD = 4

@dataclass
class _Opened:
    """What one process holds open for an H5Array."""

    file: h5py.File
    dataset: h5py.Dataset
    pid: int
    fd: int  # the file descriptor HDF5 reads through
    mapped: np.ndarray | None  # the dataset's bytes, memory-mapped, when contiguous
    data_end: int  # the file must be at least this long while ``mapped`` is read
    stamp: FileStamp  # the file as opened; a read refuses (or reopens) any other


class H5Array:
    """A read-only, lazily opened HDF5 dataset that indexes like a numpy array.

    The constructor opens the file, validates ``key`` and records ``shape`` and ``dtype``,
    then closes it again. The first read in each process opens the file and keeps it open;
    pickling (as DataLoader workers under ``spawn`` do) drops the handle, and a forked
    child opens its own. ``H5Array`` is itself a map-style dataset: ``len`` and
    ``__getitem__``, plus ``__getitems__`` so that a DataLoader fetches a whole batch of
    rows in one call.

    Parameters
    ----------
    path : str or os.PathLike
        HDF5 file.
    key : str
        Path of the dataset inside the file, e.g. ``"x"`` or ``"patches/images"``.
    reopen_on_change : bool, default False
        What a read does when the file on disk is no longer the one seen at construction
        (its inode, size or modification time changed: rewritten, truncated or replaced):
        raise ``DataFormatError`` (the default), or open the new file and read from it,
        provided ``key`` still has the same shape and dtype. HDF5 shares one open file, and
        its caches, between all handles of a file in a process: close the other readers of
        the old file before one reopens it.

    Attributes
    ----------
    path : pathlib.Path
        The file.
    key : str
        The dataset inside it.
    shape : tuple of int
        Shape of the dataset; rows are along axis 0 (e.g. ``(N, H, W, C)`` for patches).
    dtype : numpy.dtype
        The file's own dtype, kept in every read (PatchCamelyon images are ``uint8``).

    Raises
    ------
    MissingFileError
        ``path`` does not exist (a ``FileNotFoundError`` and a ``DataFormatError``).
    DataFormatError
        The file is not a regular file, is truncated or not HDF5; ``key`` is missing, is a group, or is a
        scalar. Reads raise it too when the file has become unreadable (truncated, corrupt
        chunk, or a different shape or dtype under ``key``); an index out of range raises
        ``IndexError``, as numpy does.

    Notes
    -----
    Contiguous datasets of a plain numeric type are memory-mapped in each process that
    reads them. The pages read count in that process's resident memory as shared, evictable
    file cache, as with ``numpy.memmap``. Every read (one ``__getitem__`` or
    ``__getitems__`` call, however many rows) first checks with one ``os.stat`` that the file
    is still the one opened, so a file truncated, rewritten or replaced while open raises
    ``DataFormatError`` instead of returning zeros or stale bytes; do not rewrite a file
    while it is being read all the same (a truncation in the middle of a read is a
    ``SIGBUS``).

    Examples
    --------
    >>> import tempfile, pathlib, h5py, numpy as np
    >>> from histomammo.io import H5Array
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "patches.h5"
    >>> with h5py.File(path, "w") as f:
    ...     _ = f.create_dataset("x", data=np.arange(24, dtype=np.uint8).reshape(4, 3, 2))
    >>> patches = H5Array(path, "x")
    >>> patches.shape, patches.dtype, len(patches)
    ((4, 3, 2), dtype('uint8'), 4)
    >>> patches[-1, 0]
    array([18, 19], dtype=uint8)
    >>> patches[[3, 0, 3], 0, 1]
    array([19,  1, 19], dtype=uint8)
    >>> patches.close()
    """

    def __init__(
        self, path: str | os.PathLike[str], key: str, *, reopen_on_change: bool = False
    ) -> None:
        self.path = Path(path)
        self.key = key
        self.reopen_on_change = bool(reopen_on_change)
        with open_file(self.path) as file:
            dataset = find_dataset(file, self.path, key)
            self.shape: tuple[int, ...] = tuple(dataset.shape)
            self.dtype: np.dtype = dataset.dtype
            self._stamp = file_stamp(os.fstat(file.id.get_vfd_handle()))
        self._opened: _Opened | None = None

    @property
    def ndim(self) -> int:
        """Number of axes."""
        return len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"H5Array({str(self.path)!r}, {self.key!r}, shape={self.shape}, dtype={self.dtype})"

    def _handle(self) -> _Opened:
        """The file as opened by this process; opened here on first use."""
        if self._opened is None or self._opened.pid != os.getpid():
            # An inherited handle is the parent's: drop this process's copy, open our own.
            self._opened = None
            file = open_file(self.path)
            try:
                self._opened = self._validate(file)
            finally:
                if self._opened is None:
                    file.close()
            logger.debug("opened %s in process %d", self.path, self._opened.pid)
        return self._opened

    def _validate(self, file: h5py.File) -> _Opened:
        """Check ``file`` still holds the dataset seen at construction, whole; map it if we can."""
        dataset = find_dataset(file, self.path, self.key)
        if tuple(dataset.shape) != self.shape or dataset.dtype != self.dtype:
            raise DataFormatError(
                f"{self.path}: {self.key!r} is now {dataset.shape} {dataset.dtype}; "
                f"expected {self.shape} {self.dtype} as when this H5Array was created"
            )
        fd, offset = file.id.get_vfd_handle(), contiguous_offset(file, dataset)
        stamp = file_stamp(os.fstat(fd))
        if stamp != self._stamp:
            self._refuse_or_accept(stamp)
        if offset is None:
            check_chunk_index(dataset, self.path, stamp.size)
            return _Opened(file, dataset, os.getpid(), fd, None, 0, stamp)
        opened = _Opened(file, dataset, os.getpid(), fd, None, offset + dataset.nbytes, stamp)
        self._check_length(opened)
        try:
            opened.mapped = map_array(fd, offset, self.shape, self.dtype)
        except (OSError, ValueError) as err:  # e.g. a file system without mmap: use h5py
            logger.debug("%s: not memory-mapped (%s); reading through h5py", self.path, err)
        return opened

    def _refuse_or_accept(self, stamp: FileStamp) -> None:
        """The file is not the one seen at construction: raise, or adopt it if allowed."""
        if not self.reopen_on_change:
            raise DataFormatError(
                f"{self.path}: the file changed on disk since this H5Array was created (size "
                f"{self._stamp.size} -> {stamp.size} bytes, inode {self._stamp.inode} -> "
                f"{stamp.inode}); pass reopen_on_change=True to read the new file"
            )
        logger.info("%s changed on disk; reading the new file", self.path)
        self._stamp = stamp

    def _current(self) -> _Opened:
        """This process's handle, checked with one ``os.stat`` to be the file at ``path``."""
        opened = self._handle()
        try:
            now = file_stamp(os.stat(self.path))
        except OSError as err:
            raise DataFormatError(f"{self.path}: the file is gone since it was opened ({err})"
                                  ) from err
        if now != opened.stamp:
            self._refuse_or_accept(now)
            self.close()
            opened = self._handle()
        return opened

    def _check_length(self, opened: _Opened) -> None:
        """Refuse to touch mapped bytes the file no longer has (that would be SIGBUS)."""
        length = os.fstat(opened.fd).st_size
        if length < opened.data_end:
            raise DataFormatError(
                f"{self.path}: the data of {self.key!r} ends at byte {opened.data_end} but the "
                f"file has {length} bytes; the file is truncated"
            )

    def _read(self, selection: tuple[Any, ...]) -> np.ndarray:
        """``dataset[selection]`` through h5py, its I/O errors reported as DataFormatError."""
        dataset = self._handle().dataset
        try:
            return dataset[selection]
        except H5_ERRORS as err:
            raise DataFormatError(
                f"{self.path}: reading {self.key!r} failed ({err}); the file may be truncated "
                "or corrupt"
            ) from err

    def _gather(self, rows: np.ndarray, rest: tuple[Any, ...]) -> np.ndarray:
        """Rows ``rows`` (1-D, in range, any order, repeats allowed) through h5py, ``rest`` applied.

        Rows close together are read as one slab; others one run of consecutive rows at a
        time, in file order, each put straight in its place in the result.
        """
        tail = np.broadcast_to(np.empty((), self.dtype), self.shape[1:])[rest].shape
        if rows.size == 0:
            return np.empty((0, *tail), dtype=self.dtype)
        low, high = int(rows.min()), int(rows.max()) + 1
        row_bytes = self.dtype.itemsize * int(np.prod(self.shape[1:]))
        if (high - low) * row_bytes <= max(_SLAB_BYTES, _SLAB_OVERREAD * rows.size * row_bytes):
            slab = self._read((slice(low, high), *rest))
            in_order = rows.size == high - low and bool((np.diff(rows) == 1).all())
            return slab if in_order else slab[rows - low]
        order = np.argsort(rows, kind="stable")
        ordered = rows[order]
        gathered = np.empty((rows.size, *tail), dtype=self.dtype)
        breaks = (np.flatnonzero(np.diff(ordered) > 1) + 1).tolist()
        for start, stop in zip([0, *breaks], [*breaks, rows.size], strict=True):
            low, high = int(ordered[start]), int(ordered[stop - 1]) + 1
            run = self._read((slice(low, high), *rest))
            gathered[order[start:stop]] = run[ordered[start:stop] - low]
        return gathered

    def __getitem__(self, key: Any) -> Any:
        opened = self._current()
        if opened.mapped is not None:
            selected = opened.mapped[key]  # numpy's own indexing, errors and all
            return selected.copy() if np.may_share_memory(selected, opened.mapped) else selected
        return self._read_through_h5py(key)

    def _read_through_h5py(self, key: Any) -> Any:
        """``self[key]`` with numpy's meaning, from as few h5py reads as the key allows."""
        key = key if isinstance(key, tuple) else (key,)
        if not key or key[0] is Ellipsis or key[0] is None or isinstance(key[0], (bool, np.bool_)):
            # These keys do not select along axis 0 alone: read everything, index in numpy.
            return self._read(())[key]
        first, rest = key[0], key[1:]
        if not passes_to_h5py(rest):
            # Apply the whole key to the rows read, in numpy, so that advanced indices in
            # ``rest`` combine with ``first`` exactly as numpy combines them.
            rows, within = self._rows_and_key_within(first)
            key_within = (within, *rest)
            return rows[key_within]
        check_in_bounds(rest, self.shape)
        if is_integer(first):
            row = self._check_row(first)
            return self._read((row, *rest))
        if isinstance(first, slice):
            forward, within = self._forward_slice(first)
            return self._read((forward, *rest))[within]
        rows = row_index(first, self.shape[0])
        gathered = self._gather(rows.ravel(), rest)
        return gathered.reshape(rows.shape + gathered.shape[1:])

    def _rows_and_key_within(self, first: Any) -> tuple[np.ndarray, Any]:
        """Whole rows that axis-0 key ``first`` selects, and the key selecting it from them."""
        if is_integer(first):
            row = self._check_row(first)
            return self._read((slice(row, row + 1),)), 0
        if isinstance(first, slice):
            forward, within = self._forward_slice(first)
            return self._read((forward,)), within
        rows = row_index(first, self.shape[0])
        unique, inverse = np.unique(rows, return_inverse=True)
        return self._gather(unique, ()), inverse.reshape(rows.shape)

    def _check_row(self, row: int | np.integer) -> int:
        """``row`` as a non-negative int, or IndexError as numpy raises it."""
        length = self.shape[0]
        if not -length <= row < length:
            raise IndexError(f"index {row} is out of bounds for axis 0 with size {length}")
        return int(row) % length

    def _forward_slice(self, first: slice) -> tuple[slice, slice]:
        """The same rows as ``first`` as a forward slice (h5py's only kind), and how to flip."""
        picked = range(self.shape[0])[first]
        if len(picked) == 0:
            return slice(0, 0), slice(None)
        if picked.step > 0:
            return slice(picked.start, picked.stop, picked.step), slice(None)
        return slice(picked[-1], picked[0] + 1, -picked.step), slice(None, None, -1)

    def __getitems__(self, indices: list[int]) -> list[np.ndarray]:
        """Rows ``indices`` as a list of arrays, read together (DataLoader's batch fetch)."""
        return list(self[np.asarray(indices, dtype=np.int64)])

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        array = self[...]  # always a new array, so ``copy`` asks for nothing more
        return array if dtype is None else array.astype(dtype, copy=False)

    def close(self) -> None:
        """Close this process's handle, if open; a later read opens the file again."""
        if self._opened is not None and self._opened.pid == os.getpid():
            self._opened.file.close()
        self._opened = None

    def __enter__(self) -> H5Array:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_opened": None}

"""numpy's indexing rules for [`histomammo.io.hdf5.H5Array`][histomammo.io.H5Array]: which keys h5py
applies as
numpy would, and validation of row indices along axis 0.

Private: the public reader is [`histomammo.io.hdf5.H5Array`][histomammo.io.H5Array].
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["INDEX_TYPES_MESSAGE", "check_in_bounds", "is_integer", "passes_to_h5py", "row_index"]

INDEX_TYPES_MESSAGE = (
    "only integers, slices (`:`), ellipsis (`...`), numpy.newaxis (`None`) and integer or "
    "boolean arrays are valid indices"
)


def row_index(index: Any, length: int) -> np.ndarray:
    """Validate an integer or boolean index array for axis 0 and return it as int64 >= 0."""
    rows = np.asarray(index)
    if rows.ndim == 0 and not np.issubdtype(rows.dtype, np.integer):
        raise IndexError(INDEX_TYPES_MESSAGE + f"; got {index!r}")
    if rows.dtype == bool:
        if rows.ndim != 1 or rows.shape[0] != length:
            raise IndexError(
                f"boolean index of shape {rows.shape} does not match axis 0 of length {length}"
            )
        return np.flatnonzero(rows)
    if rows.size == 0:
        return rows.astype(np.int64)
    if not np.issubdtype(rows.dtype, np.integer):
        raise IndexError(
            f"arrays used as indices must be of integer (or boolean) type, not {rows.dtype}"
        )
    rows = rows.astype(np.int64)
    bad = (rows < -length) | (rows >= length)
    if bad.any():
        raise IndexError(f"index {rows[bad][0]} is out of bounds for axis 0 with size {length}")
    return np.where(rows < 0, rows + length, rows)


def is_integer(item: Any) -> bool:
    """True for Python and numpy integers, not for booleans (numpy treats those as masks)."""
    return isinstance(item, (int, np.integer)) and not isinstance(item, bool)


def passes_to_h5py(rest: tuple[Any, ...]) -> bool:
    """True when h5py applies the trailing key exactly as numpy would (ints, forward slices)."""
    for item in rest:
        if isinstance(item, slice):
            if item.step is not None and item.step < 1:
                return False
        elif not is_integer(item):
            return False
    return True


def check_in_bounds(rest: tuple[Any, ...], shape: tuple[int, ...]) -> None:
    """Raise numpy's IndexError for too many indices or an integer of ``rest`` out of range.

    ``rest`` indexes axes 1, 2, ...; it may be shorter than them (``strict=False``).
    """
    if len(rest) >= len(shape):
        raise IndexError(
            f"too many indices for array: array is {len(shape)}-dimensional, "
            f"but {len(rest) + 1} were indexed"
        )
    for axis, (item, size) in enumerate(zip(rest, shape[1:], strict=False), start=1):
        if is_integer(item) and not -size <= item < size:
            raise IndexError(f"index {item} is out of bounds for axis {axis} with size {size}")

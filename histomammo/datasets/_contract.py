"""The one dataset contract every reader in ``histomammo.datasets`` follows.

``Dataset(root, split=..., *, transforms=None, transform=None, target_transform=None, ...)``
as torchvision's ``VisionDataset``: ``transforms`` is applied jointly to ``(image, target)``;
``transform`` / ``target_transform`` to each alone (the two styles exclude each other).
Splits are ``"train"``, ``"val"``, ``"test"`` wherever a release has them (``"valid"`` is an
alias), negative indices count from the end, ``sample_info(i)`` says where sample ``i`` came
from, and one bad row of a release's table is a logged warning and an entry in
``dataset.problems`` (``strict=True`` raises it instead).

[`ContractDataset`][histomammo.datasets._contract.ContractDataset] implements the shared
parts; a reader supplies ``__len__``, ``_load(index) -> (image, target)`` and
``sample_info(index) -> dict`` holding at least the keys of ``INFO_KEYS``. The page
``docs/datasets.md`` states the contract, each dataset's image policy included.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from torch.utils.data import Dataset

from histomammo.errors import DataFormatError

__all__ = ["INFO_KEYS", "ContractDataset", "Problem", "SizedDataset", "resolve_split",
           "SPLIT_ALIASES"]

logger = logging.getLogger("histomammo.datasets")

#: A dataset's split names, e.g. ``Literal["train", "val", "test"]``.
SplitName = TypeVar("SplitName", bound=str)

#: Names a release uses that mean one of the contract's splits.
SPLIT_ALIASES: dict[str, str] = {"valid": "val", "validation": "val"}

#: Keys every ``sample_info(i)`` holds: the image file, the contract's split name, and the
#: patient (or the finest unit the release records: a case, a slide), ``None`` where unknown.
INFO_KEYS: tuple[str, ...] = ("file", "split", "patient")


class SizedDataset(Protocol):
    """A map-style dataset with a length: every contract dataset, ``TensorDataset``, a list."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int, /) -> Any: ...


@dataclass(frozen=True)
class Problem:
    """One row-level problem a reader skipped or flagged instead of failing the dataset.

    Attributes
    ----------
    file : str
        The file (table, annotation, image) the problem is in.
    row : int or str or None
        The row number (1-based, the header being row 1) or key within ``file``.
    message : str
        What was wrong and what the reader did (``"skipped"`` or ``"kept, flagged"``).
    """

    file: str
    row: int | str | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.row is None else f"{self.file}, row {self.row}"
        return f"{where}: {self.message}"


def resolve_split(
    split: str,
    allowed: Iterable[SplitName],
    *,
    dataset: str,
    aliases: Mapping[str, str] = SPLIT_ALIASES,
) -> SplitName:
    """The contract's name for ``split`` (``"valid"`` -> ``"val"``), checked against ``allowed``.

    Parameters
    ----------
    split : str
        What the user passed.
    allowed : iterable of str
        The splits this dataset has, in the contract's names.
    dataset : str
        The dataset's name, for the error message.
    aliases : mapping
        Release names that mean a contract name.

    Raises
    ------
    ValueError
        For a split the dataset does not have, listing those it has.

    Examples
    --------
    >>> resolve_split("valid", ("train", "val", "test"), dataset="PCam")
    'val'
    """
    choices = tuple(allowed)
    name = aliases.get(split, split) if isinstance(split, str) else split
    for choice in choices:
        if choice == name:
            return choice
    raise ValueError(f"unknown {dataset} split {split!r}; expected one of {choices}")


def _joint(transform: Callable[[Any], Any] | None,
           target_transform: Callable[[Any], Any] | None) -> Callable[[Any, Any], Any] | None:
    if transform is None and target_transform is None:
        return None
    return _SeparateTransforms(transform, target_transform)


class _SeparateTransforms:
    """``transform`` on the image and ``target_transform`` on the target (picklable)."""

    def __init__(self, transform: Callable[[Any], Any] | None,
                 target_transform: Callable[[Any], Any] | None) -> None:
        self.transform, self.target_transform = transform, target_transform

    def __call__(self, image: Any, target: Any) -> tuple[Any, Any]:
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target


class ContractDataset(Dataset[Any]):
    """Base of every histomammo dataset: transforms, negative indices, problems, strictness.

    Subclasses call ``super().__init__(root, transforms=..., transform=...,
    target_transform=..., strict=...)`` first, then read their tables, reporting bad rows
    through ``report_problem``.

    Parameters
    ----------
    root : str or path
        The release's folder.
    transforms : callable, optional
        Applied as ``transforms(image, target)``; a ``torchvision.transforms.v2`` transform
        moves boxes and masks with the image.
    transform, target_transform : callable, optional
        Applied to the image and to the target alone; not together with ``transforms``.
    strict : bool
        Raise on the first row-level problem instead of skipping or flagging it.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        transforms: Callable[[Any, Any], Any] | None = None,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
        strict: bool = False,
    ) -> None:
        if transforms is not None and (transform is not None or target_transform is not None):
            raise ValueError("pass either transforms, or transform and/or target_transform, "
                             "not both (as torchvision's VisionDataset)")
        self.root = Path(root)
        self.transform, self.target_transform = transform, target_transform
        self.transforms = transforms if transforms is not None else _joint(
            transform, target_transform)
        self.strict = strict
        self.problems: list[Problem] = []

    def report_problem(self, file: str | Path, row: int | str | None, message: str,
                       error: type[Exception] = DataFormatError) -> None:
        """Record a row-level problem: raise ``error`` if strict, else warn once and keep it."""
        problem = Problem(str(file), row, message)
        if self.strict:
            raise error(str(problem))
        logger.warning("%s: %s", type(self).__name__, problem)
        self.problems.append(problem)

    def __len__(self) -> int:
        raise NotImplementedError

    def _load(self, index: int) -> tuple[Any, Any]:
        raise NotImplementedError

    def sample_info(self, index: int) -> dict[str, Any]:
        """Where sample ``index`` came from: at least the keys of ``INFO_KEYS``."""
        raise NotImplementedError

    def _index(self, index: int) -> int:
        n = len(self)
        if not isinstance(index, int) and hasattr(index, "__index__"):
            index = index.__index__()
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for {type(self).__name__} of {n} samples")
        return index % n

    def _transformed(self, image: Any, target: Any) -> tuple[Any, Any]:
        """``(image, target)`` after ``transforms`` (or ``transform`` / ``target_transform``)."""
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        return self._transformed(*self._load(self._index(index)))

    def __repr__(self) -> str:
        split = getattr(self, "split", None)
        lines = [f"{type(self).__name__}", f"    Number of samples: {len(self)}",
                 f"    Root location: {self.root}"]
        if split is not None:
            lines.insert(2, f"    Split: {split}")
        if self.problems:
            lines.append(f"    Problems: {len(self.problems)} (see .problems)")
        return "\n".join(lines)

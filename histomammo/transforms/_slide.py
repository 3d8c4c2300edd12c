"""What the slide readers take: a pyramid of levels and a region reader, as TiffImage has."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol, runtime_checkable

import numpy as np

__all__ = ["Slide", "SlideLevel"]


@runtime_checkable
class SlideLevel(Protocol):
    """One level of a slide: its position, ``(H, W)`` or ``(H, W, C)`` shape and downsample."""

    @property
    def index(self) -> int: ...

    @property
    def shape(self) -> tuple[int, ...]: ...

    @property
    def downsample(self) -> float: ...


@runtime_checkable
class Slide(Protocol):
    """A whole-slide image: [`TiffImage`][histomammo.io.TiffImage] or any object alike.

    ``levels`` run from full resolution (0) down; ``read_region`` returns the ``(height,
    width)`` or ``(height, width, C)`` pixels at ``(top, left)`` of ``level``, in that level's
    pixels, padded with ``fill`` beyond the edge when ``bounds="pad"``; ``dtype`` is the
    pixels' numpy dtype.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from histomammo.datasets.synthetic import make_slide
    >>> from histomammo.io import TiffImage
    >>> path = make_slide(pathlib.Path(tempfile.mkdtemp()) / "s.tif", (256, 256), levels=1).path
    >>> isinstance(TiffImage(path), Slide)
    True
    """

    @property
    def levels(self) -> Sequence[SlideLevel]: ...

    @property
    def dtype(self) -> np.dtype: ...

    def read_region(self, top: int, left: int, height: int, width: int, level: int = 0, *,
                    bounds: Literal["error", "pad"] = "error", fill: float = 0) -> np.ndarray: ...

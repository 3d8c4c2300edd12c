"""The optional stain step of the histology systems (PCam, GlaS, BreCaHAD).

None of the three papers normalised or augmented stains, so the step is off by default and the
recipes reproduce the papers as published. Turned on, it comes first, on the stored uint8
image: the fitted normaliser ([`NormalizeStain`][histomammo.transforms.stain.NormalizeStain]
around a [`StainNormalizer`][histomammo.transforms.stain.StainNormalizer], on every split: save
its ``state_dict()`` with the model so inference normalises to the same target), then a stain
augmentation (e.g. [`HEDJitter`][histomammo.transforms.stain.HEDJitter]), on training data only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from histomammo.transforms.stain import NormalizeStain, StainNormalizer

__all__ = ["stain_steps"]


def stain_steps(stain: StainNormalizer | None = None,
                stain_jitter: Callable[[Any], Any] | None = None, *,
                train: bool = True) -> list[Callable[[Any], Any]]:
    """The transforms of the optional stain step, to put first in a v2 pipeline.

    Parameters
    ----------
    stain : StainNormalizer, optional
        A fitted normaliser, applied on every split.
    stain_jitter : callable, optional
        A stain augmentation (``HEDJitter``, ``RandStainNA``), applied only when ``train``.
    train : bool
        Whether the pipeline is a training one.

    Examples
    --------
    >>> stain_steps()
    []
    >>> from histomammo.transforms.stain import HEDJitter
    >>> [type(s).__name__ for s in stain_steps(stain_jitter=HEDJitter(), train=False)]
    []
    """
    steps: list[Callable[[Any], Any]] = []
    if stain is not None:
        steps.append(NormalizeStain(stain))
    if stain_jitter is not None and train:
        steps.append(stain_jitter)
    return steps

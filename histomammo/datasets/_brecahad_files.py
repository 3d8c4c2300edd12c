"""BreCaHAD files: the folder layout, one annotation file, and the train/validation/test split.

Public names are re-exported by [`histomammo.datasets.brecahad`][histomammo.datasets.brecahad].
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from histomammo.errors import DataFormatError, MissingFileError

__all__ = ["BRECAHAD_KEYS", "PAPER_SPLIT", "find_pairs", "read_annotations", "split_brecahad"]

logger = logging.getLogger("histomammo.datasets.brecahad")

#: The seven annotation keys of every BreCaHAD ground-truth file.
BRECAHAD_KEYS: tuple[str, ...] = (
    "mitosis", "non_mitosis", "apoptosis", "tumor", "non_tumor", "lumen", "non_lumen",
)
#: The seed paper's split of the 162 images (sections 2.4.2-2.4.4): train, validation, test.
PAPER_SPLIT: tuple[int, int, int] = (138, 12, 12)

_CASE = re.compile(r"^(.*?)-\d+$")  # "Case_1-01" -> case "Case_1"


def _point(item: object, path: Path, key: str, i: int) -> tuple[float, float]:
    if not isinstance(item, dict) or set(item) != {"x", "y"}:
        raise DataFormatError(f"{path}: {key}[{i}] is {item!r}; expected an object "
                              '{"x": float, "y": float}')
    x, y = item["x"], item["y"]
    for value in (x, y):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise DataFormatError(f"{path}: {key}[{i}] has coordinate {value!r} of type "
                                  f"{type(value).__name__}; expected a number")
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise DataFormatError(f"{path}: {key}[{i}] has coordinate {value!r}; expected a "
                                  "normalised value in [0, 1]")
    return float(x), float(y)


def read_annotations(
    json_path: str | os.PathLike[str], width: int = 1360, height: int = 1024
) -> dict[str, np.ndarray]:
    """Read one BreCaHAD ground-truth file as pixel coordinates per key.

    Parameters
    ----------
    json_path : path
        A ``groundTruth/<name>.json``: one object with exactly the keys of
        ``BRECAHAD_KEYS``, each a list of ``{"x": float, "y": float}`` in [0, 1].
    width, height : int
        The image size: column = ``x * width``, row = ``y * height``.

    Returns
    -------
    dict of str to ndarray (N, 2) float64
        ``(column, row)`` pixels per key; every key present, empty ones as (0, 2).

    Raises
    ------
    MissingFileError
        No such file.
    DataFormatError
        Not JSON, not an object, a missing or unknown key, a value that is not a list of
        points, a coordinate that is not a number or lies outside [0, 1].

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "Case_1-01.json"
    >>> doc = {key: [] for key in BRECAHAD_KEYS}
    >>> doc["tumor"] = [{"x": 0.5, "y": 0.25}]
    >>> _ = path.write_text(json.dumps(doc))
    >>> read_annotations(path)["tumor"].tolist()
    [[680.0, 256.0]]
    """
    path = Path(json_path)
    if not path.is_file():
        raise MissingFileError(f"{path}: no such annotation file; expected a BreCaHAD "
                               "groundTruth JSON")
    try:
        document = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataFormatError(f"{path}: not valid JSON ({err}); expected a BreCaHAD "
                              "ground-truth object") from err
    if not isinstance(document, dict):
        raise DataFormatError(f"{path}: holds a JSON {type(document).__name__}; expected an "
                              f"object with the keys {list(BRECAHAD_KEYS)}")
    missing = [k for k in BRECAHAD_KEYS if k not in document]
    unknown = sorted(set(document) - set(BRECAHAD_KEYS))
    if missing or unknown:
        raise DataFormatError(f"{path}: missing keys {missing}, unknown keys {unknown}; "
                              f"expected exactly {list(BRECAHAD_KEYS)}")
    points = {}
    for key in BRECAHAD_KEYS:
        items = document[key]
        if not isinstance(items, list):
            raise DataFormatError(f"{path}: {key!r} is a {type(items).__name__}; expected a "
                                  "list of points")
        xy = np.array([_point(item, path, key, i) for i, item in enumerate(items)],
                      dtype=np.float64).reshape(-1, 2)
        points[key] = xy * np.array([width, height], dtype=np.float64)
    return points


def _child(root: Path, name: str) -> Path:
    """The sub-folder of ``root`` named ``name`` in any letter case."""
    if not root.is_dir():
        raise MissingFileError(f"{root}: no such folder; expected a BreCaHAD root holding "
                               "images/ and groundTruth/")
    found = [p for p in root.iterdir() if p.is_dir() and p.name.lower() == name.lower()]
    if len(found) != 1:
        raise MissingFileError(f"{root}: {'no' if not found else 'several'} folder(s) named "
                               f"{name!r} (in any case): found {[p.name for p in found]}")
    return found[0]


def find_pairs(
    root: str | os.PathLike[str],
    *,
    on_problem: Callable[[Path, int | None, str, type[Exception]], None] | None = None,
) -> list[tuple[str, Path, Path]]:
    """``(name, image path, json path)`` of every paired image, sorted by name.

    ``images/`` and ``groundTruth/`` are found in any letter case (copies spell
    ``groundtruth``). An image without its annotation file, or the reverse, raises
    ``MissingFileError``; with ``on_problem`` it is reported as
    ``on_problem(file, None, message, MissingFileError)`` and left out instead.
    """
    root = Path(root)
    images_dir, truth_dir = _child(root, "images"), _child(root, "groundTruth")
    images = {p.stem: p for p in images_dir.iterdir() if p.suffix.lower() in (".tif", ".tiff")}
    truths = {p.stem: p for p in truth_dir.iterdir() if p.suffix.lower() == ".json"}
    if not images:
        raise MissingFileError(f"{images_dir}: no .tif images")
    for names, have, lack in ((images.keys() - truths.keys(), images, truth_dir),
                              (truths.keys() - images.keys(), truths, images_dir)):
        if not names:
            continue
        if on_problem is None:
            first = have[sorted(names)[0]]
            raise MissingFileError(f"{first}: has no counterpart in {lack} "
                                   f"({len(names)} unpaired file(s) in all: {sorted(names)[:5]})")
        for name in sorted(names):
            on_problem(have[name], None, f"no counterpart in {lack}; left out", MissingFileError)
    return [(name, images[name], truths[name]) for name in sorted(images.keys() & truths.keys())]


def case_of(name: str) -> str:
    """The case (patient) of an image name: ``"Case_1-01"`` -> ``"Case_1"``."""
    found = _CASE.match(name)
    return found.group(1) if found else name


def _targets(n: int) -> tuple[int, int]:
    """Validation and test sizes: the paper's 12 and 12 of 162, scaled to ``n`` images."""
    val = max(int(round(n * PAPER_SPLIT[1] / sum(PAPER_SPLIT))), 1)
    return val, val


def _fill(cases: list[tuple[str, list[str]]], target: int) -> list[str]:
    """Take whole cases (in the given order) for as close to ``target`` images as possible."""
    chosen: list[str] = []
    for i, (_, names) in enumerate(list(cases)):
        if len(chosen) + len(names) <= target:
            chosen += names
            cases[i] = ("", [])
    rest = [(abs(len(chosen) + len(names) - target), i) for i, (_, names) in enumerate(cases)
            if names]
    if rest and len(chosen) < target:
        gap, i = min(rest)
        if gap < target - len(chosen) or not chosen:  # closer, or else the split is empty
            chosen += cases[i][1]
            cases[i] = ("", [])
    cases[:] = [c for c in cases if c[1]]
    return chosen


def split_brecahad(
    names: Sequence[str], seed: int = 0, group_by_case: bool = True
) -> dict[str, list[str]]:
    """The paper's 138 / 12 / 12 split of image names into train, validation and test.

    The paper does not say whether its split kept cases apart. With ``group_by_case=True``
    (default) no case is in two splits: whole cases, in an order shuffled by ``seed``, are
    given to validation and then test as close to 12 images each as the case sizes allow,
    the rest to training; the counts obtained are logged. ``group_by_case=False`` shuffles
    images, giving exactly 138 / 12 / 12 of the 162 images. With another number of images
    the 12/162 proportions are scaled (at least one image each).

    Returns
    -------
    dict
        ``{"train": [...], "val": [...], "test": [...]}``, each sorted.

    Examples
    --------
    >>> names = [f"Case_{c}-{i:02d}" for c in range(1, 28) for i in range(1, 7)]
    >>> {k: len(v) for k, v in split_brecahad(names, group_by_case=False).items()}
    {'train': 138, 'val': 12, 'test': 12}
    """
    names = sorted(set(names))
    if len(names) < 3:
        raise ValueError(f"need at least 3 images to split, but got {len(names)}")
    rng = np.random.default_rng(seed)
    n_val, n_test = _targets(len(names))
    if not group_by_case:
        order = [names[i] for i in rng.permutation(len(names))]
        split = {"val": order[:n_val], "test": order[n_val:n_val + n_test],
                 "train": order[n_val + n_test:]}
    else:
        groups: dict[str, list[str]] = {}
        for name in names:
            groups.setdefault(case_of(name), []).append(name)
        keys = sorted(groups)
        cases = [(keys[i], groups[keys[i]]) for i in rng.permutation(len(keys))]
        split = {"val": _fill(cases, n_val), "test": _fill(cases, n_test)}
        split["train"] = [n for _, members in cases for n in members]
        if not all(split.values()):
            raise ValueError(f"cannot split {len(groups)} case(s) into non-empty train, "
                             "validation and test sets; pass group_by_case=False")
    result = {key: sorted(split[key]) for key in ("train", "val", "test")}
    logger.info("BreCaHAD split (seed %d, group_by_case=%s): %s", seed, group_by_case,
                {k: len(v) for k, v in result.items()})
    return result

"""The dataset contract (docs/datasets.md), swept over every dataset class.

Each entry builds one dataset from the ``histomammo.datasets.synthetic`` writers (their real
releases' quirks included) and every test below runs on every entry: the signature, the split
names and the ``"valid"`` alias, ``transforms`` vs ``transform``, negative indices,
``sample_info``, ``problems``, a pickle round-trip, a DataLoader with 2 workers under
``spawn``, and the image policy (dtype, channels, ``tv_tensors.Image``).
"""

from __future__ import annotations

import inspect
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader
from torchvision import tv_tensors

from histomammo.datasets import collate_detection
from histomammo.datasets._contract import INFO_KEYS, ContractDataset, Problem
from histomammo.datasets.synthetic import (
    make_brecahad,
    make_cbis_ddsm,
    make_glas,
    make_inbreast,
    make_pcam,
    make_screening_archive,
)


def _histology(image: Any) -> None:
    """Histology: RGB uint8 as stored."""
    assert image.dtype == torch.uint8 and image.shape[0] == 3


def _mammography_raw(image: Any) -> None:
    """Mammography, ``pixels="raw"`` (the default): the stored integers, one channel."""
    assert not image.is_floating_point() and image.shape[0] == 1


@dataclass
class Entry:
    """How to build one dataset class on synthetic files, and what its contract says."""

    name: str
    cls_path: str  # "module:Class", imported when the entry runs
    write: Callable[[Path], tuple[Path, dict[str, Any]]]  # -> root, constructor keywords
    splits: tuple[str, ...]
    image_policy: Callable[[Any], None]
    marks: list[Any] = field(default_factory=list)

    @property
    def cls(self) -> type:
        module, name = self.cls_path.split(":")
        return getattr(__import__(module, fromlist=[name]), name)


def _glas(tmp: Path) -> tuple[Path, dict[str, Any]]:
    return make_glas(tmp, counts={"train": 3, "testA": 2, "testB": 2}, size=(24, 32)), {}


def _brecahad(tmp: Path) -> tuple[Path, dict[str, Any]]:
    root = make_brecahad(tmp, n_cases=4, images_per_case=1, size=(48, 64), nuclei=(3, 3))
    return root, {"patch_size": (24, 32), "image_size": (48, 64), "group_by_case": False}


def _pcam(tmp: Path) -> tuple[Path, dict[str, Any]]:
    return make_pcam(tmp, {"train": 4, "valid": 4, "test": 4}, progress=False), {}


def _inbreast(tmp: Path) -> tuple[Path, dict[str, Any]]:
    return make_inbreast(tmp, n_patients=10, shape=(96, 64)), {}


def _cbis_ddsm(tmp: Path) -> tuple[Path, dict[str, Any]]:
    return make_cbis_ddsm(tmp, n_patients=8, shape=(96, 64)), {}


def _screening(tmp: Path) -> tuple[Path, dict[str, Any]]:
    tree, table = make_screening_archive(tmp, n_patients=10, shape=(96, 64))
    return tree, {"diagnoses_csv": table}


ENTRIES = [
    Entry("GlaS", "histomammo.datasets.glas:GlaS", _glas, ("test", "train", "testA", "testB"),
          _histology),
    Entry("BreCaHAD", "histomammo.datasets.brecahad:BreCaHAD", _brecahad,
          ("test", "train", "val"), _histology),
    Entry("PCam", "histomammo.datasets.pcam:PCam", _pcam, ("val", "train", "test"), _histology),
    Entry("INbreast", "histomammo.datasets.inbreast:INbreast", _inbreast,
          ("train", "val", "test"), _mammography_raw, []),
    Entry("CBISDDSM", "histomammo.datasets.cbis_ddsm:CBISDDSM", _cbis_ddsm, ("train", "test"),
          _mammography_raw, []),
    Entry("ScreeningArchive", "histomammo.datasets.screening:ScreeningArchive", _screening,
          ("train", "val", "test"), _mammography_raw, []),
]


@pytest.fixture(scope="module", params=[pytest.param(e, id=e.name, marks=e.marks)
                                        for e in ENTRIES])
def case(request, tmp_path_factory) -> tuple[Entry, Path, dict[str, Any]]:
    entry = request.param
    root, kwargs = entry.write(tmp_path_factory.mktemp(entry.name))
    return entry, root, kwargs


def _build(case, split: str | None = None, **kw: Any) -> ContractDataset:
    entry, root, kwargs = case
    return entry.cls(root, split or entry.splits[0], **kwargs, **kw)


def _same(a: Any, b: Any) -> bool:
    """Samples compare equal: tensors exactly, dicts and tuples item by item."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def test_signature(case) -> None:
    entry = case[0]
    assert issubclass(entry.cls, ContractDataset)
    params = inspect.signature(entry.cls.__init__).parameters
    assert list(params)[1:3] == ["root", "split"]
    for name in ("transforms", "transform", "target_transform", "strict"):
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY, name
        assert params[name].default is (False if name == "strict" else None), name


def test_splits_and_valid_alias(case) -> None:
    entry = case[0]
    for split in entry.splits:
        data = _build(case, split)
        assert data.split == split and len(data) > 0
    if "val" in entry.splits:
        assert _build(case, "valid").split == "val"
        assert len(_build(case, "valid")) == len(_build(case, "val"))
    with pytest.raises(ValueError, match="split"):
        _build(case, "no_such_split")


def _image_only(image: Any) -> Any:
    return image[:1]


def _target_only(target: Any) -> Any:
    return ("wrapped", target)


def _joint(image: Any, target: Any) -> tuple[Any, Any]:
    return _image_only(image), _target_only(target)


def test_transforms_and_transform(case) -> None:
    with pytest.raises(ValueError, match="either transforms"):
        _build(case, transforms=_joint, transform=_image_only)
    image, target = _build(case)[0]
    separate = _build(case, transform=_image_only, target_transform=_target_only)[0]
    joint = _build(case, transforms=_joint)[0]
    for got in (separate, joint):
        assert _same(got[0], image[:1]) and got[1][0] == "wrapped" and _same(got[1][1], target)


def test_negative_indices(case) -> None:
    data = _build(case)
    n = len(data)
    assert _same(data[-1], data[n - 1]) and _same(data[-n], data[0])
    assert data.sample_info(-1) == data.sample_info(n - 1)
    for index in (n, -n - 1):
        with pytest.raises(IndexError):
            data[index]


def test_sample_info(case) -> None:
    data = _build(case)
    for index in range(len(data)):
        info = data.sample_info(index)
        assert set(INFO_KEYS) <= set(info), set(INFO_KEYS) - set(info)
        assert info["split"] == data.split and Path(info["file"]).is_file()
    assert all(isinstance(p, Problem) and p.file and p.message for p in data.problems)


def test_image_policy(case) -> None:
    entry = case[0]
    image, _ = _build(case)[0]
    assert isinstance(image, tv_tensors.Image) and image.ndim == 3
    entry.image_policy(image)


def test_pickle_round_trip(case) -> None:
    data = _build(case)
    data[0]  # files opened in this process must not travel
    clone = pickle.loads(pickle.dumps(data))
    assert len(clone) == len(data) and _same(clone[0], data[0])
    assert clone.sample_info(0) == data.sample_info(0)


def test_dataloader_spawn_workers(case) -> None:
    # torch 2.14.1 cannot rebuild a uint16 tv_tensors.Image sent from a worker
    # (AttributeError in torch._utils._rebuild_tensor_v3): a policy of uint16 Images fails here
    data = _build(case)
    loader = DataLoader(data, batch_size=2, num_workers=2, multiprocessing_context="spawn",
                        collate_fn=collate_detection)
    # every batch is read, so the workers end with the loop rather than when a half-read
    # iterator is collected (a worker aborted once in that late shutdown)
    images, targets = list(loader)[0]
    for i in range(min(2, len(data))):
        assert _same((images[i], targets[i]), data[i])

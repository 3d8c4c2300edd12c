"""histomammo.datasets.pcam: the PCam reader, its layouts, DataLoader workers, bad input."""

from __future__ import annotations

import gzip
import pickle
import shutil
import warnings

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader
from torchvision import tv_tensors

from histomammo.datasets import PCam
from histomammo.datasets.pcam import decompress
from histomammo.datasets.synthetic import make_pcam
from histomammo.errors import DataFormatError, MissingFileError

X = "camelyonpatch_level_2_split_{}_x.h5"
Y = "camelyonpatch_level_2_split_{}_y.h5"
META = "camelyonpatch_level_2_split_{}_meta.csv"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return make_pcam(tmp_path_factory.mktemp("pcam"), {"train": 40, "valid": 8, "test": 8},
                     seed=0, progress=False)


def _arrays(root, split="train"):
    with h5py.File(root / X.format(split)) as fx, h5py.File(root / Y.format(split)) as fy:
        return fx["x"][:], fy["y"][:].ravel()


def test_smoke(root):
    data = PCam(root, "train")
    x, y = _arrays(root)
    assert len(data) == 40 and "train" in repr(data)
    image, label = data[3]
    assert isinstance(image, tv_tensors.Image) and image.dtype == torch.uint8
    assert tuple(image.shape) == (3, 96, 96)
    np.testing.assert_array_equal(image.permute(1, 2, 0).numpy(), x[3])
    assert label == int(y[3]) and isinstance(label, int)
    np.testing.assert_array_equal(data.targets, y)
    assert data[-1][1] == int(y[-1])
    with pytest.raises(IndexError, match="out of range"):
        data[40]


def test_getitems_matches_getitem(root):
    data = PCam(root, "valid")
    batch = data.__getitems__([5, 0, 5, 7])
    for (image, label), i in zip(batch, [5, 0, 5, 7], strict=True):
        single, single_label = data[i]
        assert torch.equal(image, single) and label == single_label


def test_val_alias_and_torchvision_layout(root, tmp_path):
    (tmp_path / "pcam").mkdir()
    for name in (X, Y):
        shutil.copy(root / name.format("valid"), tmp_path / "pcam" / name.format("valid"))
    data = PCam(tmp_path, "val")
    assert data.split == "valid" and len(data) == 8
    torchvision_pcam = pytest.importorskip("torchvision.datasets").PCAM(tmp_path, split="val")
    image, label = torchvision_pcam[2]
    assert np.array_equal(np.asarray(image), data[2][0].permute(1, 2, 0).numpy())
    assert label == data[2][1]
    with pytest.raises(ValueError, match="unknown PCam split"):
        PCam(root, "validation")


def test_transforms_and_meta(root):
    data = PCam(root, "test", transform=lambda im: im.float() / 255,
                target_transform=lambda t: t * 10, with_meta=True)
    image, label, meta = data[1]
    assert image.dtype == torch.float32 and label in (0, 10)
    assert set(meta) == {"index", "coord_y", "coord_x", "tumor_patch", "center_tumor_patch",
                         "wsi"}
    assert meta["index"] == 1 and meta["center_tumor_patch"] == (label == 10)
    loader = DataLoader(data, batch_size=4)
    images, labels, metas = next(iter(loader))
    assert images.shape == (4, 3, 96, 96) and len(metas["wsi"]) == 4
    assert metas["coord_y"].dtype == torch.int64


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_dataloader_workers(root, context):
    data = PCam(root, "train")
    data[0]  # opens the file in this process; workers must open their own
    # one spawned worker already proves the point and costs one interpreter start-up less
    loader = DataLoader(data, batch_size=8, shuffle=False, num_workers=2 if context == "fork" else 1,
                        multiprocessing_context=context)
    images = torch.cat([batch[0] for batch in loader])
    x, _ = _arrays(root)
    np.testing.assert_array_equal(images.permute(0, 2, 3, 1).numpy(), x)
    clone = pickle.loads(pickle.dumps(data))
    assert torch.equal(clone[7][0], data[7][0])


def test_gzipped_files(root, tmp_path):
    for name in (X, Y):
        with open(root / name.format("test"), "rb") as src, \
                gzip.open(tmp_path / (name.format("test") + ".gz"), "wb") as dst:
            shutil.copyfileobj(src, dst)
    with pytest.raises(MissingFileError, match=r"gzip.*decompress"):
        PCam(tmp_path, "test")
    written = decompress(tmp_path, progress=False)
    assert sorted(p.name for p in written) == [X.format("test"), Y.format("test")]
    assert len(PCam(tmp_path, "test")) == 8
    assert decompress(tmp_path, progress=False) == []  # already unpacked: skipped
    assert not list(tmp_path.glob(".*tmp"))


def test_truncated_gzip(root, tmp_path):
    packed = tmp_path / (X.format("test") + ".gz")
    with open(root / X.format("test"), "rb") as src, gzip.open(packed, "wb") as dst:
        shutil.copyfileobj(src, dst)
    packed.write_bytes(packed.read_bytes()[:-100])
    with pytest.raises(DataFormatError, match="cannot be decompressed"):
        decompress(tmp_path, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == [packed.name]  # no half file


def test_missing_files(tmp_path):
    with pytest.raises(MissingFileError, match="no such file"):
        PCam(tmp_path, "train")


def _split_copy(root, tmp_path, split="valid"):
    for name in (X, Y, META):
        shutil.copy(root / name.format(split), tmp_path / name.format(split))
    return tmp_path


def _write(path, key, data):
    path.unlink(missing_ok=True)
    with h5py.File(path, "w") as f:
        f.create_dataset(key, data=data)


def test_truncated_and_garbled_hdf5(root, tmp_path):
    _split_copy(root, tmp_path)
    path = tmp_path / X.format("valid")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataFormatError, match=X.format("valid")):
        PCam(tmp_path, "valid")
    path.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(DataFormatError, match="cannot be opened as HDF5"):
        PCam(tmp_path, "valid")


@pytest.mark.parametrize(
    ("key", "data", "message"),
    [
        ("y", np.zeros((7, 1, 1, 1), np.uint8), "7 labels but"),
        ("y", np.zeros((8, 2), np.uint8), r"expected \(N, 1, 1, 1\)"),
        ("y", np.full((8, 1, 1, 1), 3, np.uint8), "label 3 at row 0"),
        ("x", np.zeros((8, 64, 64, 3), np.uint8), r"expected \(N, 96, 96, 3\) uint8"),
        ("x", np.zeros((8, 96, 96, 3), np.float32), r"float32; expected"),
    ],
)
def test_wrong_shape_dtype_length(root, tmp_path, key, data, message):
    _split_copy(root, tmp_path)
    _write(tmp_path / (X if key == "x" else Y).format("valid"), key, data)
    with pytest.raises(DataFormatError, match=message):
        PCam(tmp_path, "valid")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (",coord_y,coord_x,tumor,center_tumor_patch,wsi\n", "header"),
        (",coord_y,coord_x,tumor_patch,center_tumor_patch,wsi\n0,1,2,True,False,a\n", "1 rows"),
        (",coord_y,coord_x,tumor_patch,center_tumor_patch,wsi\n0,1,2,yes,False,a\n", "line 2"),
    ],
)
def test_bad_meta(root, tmp_path, text, message):
    _split_copy(root, tmp_path)
    (tmp_path / META.format("valid")).write_text(text)
    with pytest.raises(DataFormatError, match=message):
        PCam(tmp_path, "valid", with_meta=True)
    assert len(PCam(tmp_path, "valid")) == 8  # the CSV is only read when asked for


def test_garbled_meta(root, tmp_path):
    _split_copy(root, tmp_path)
    (tmp_path / META.format("valid")).write_bytes(b"\xff\xfe\x00garbage" * 50)
    with pytest.raises(DataFormatError, match=META.format("valid")):
        PCam(tmp_path, "valid", with_meta=True)
    (tmp_path / META.format("valid")).unlink()
    with pytest.raises(MissingFileError, match="meta CSV"):
        PCam(tmp_path, "valid", with_meta=True)


def test_warns_when_nearly_the_real_size(tmp_path):
    n = 20_000  # between half and all of the real valid split's 32,768
    with h5py.File(tmp_path / X.format("valid"), "w") as f:
        f.create_dataset("x", shape=(n, 96, 96, 3), dtype=np.uint8)  # never written: tiny file
    _write(tmp_path / Y.format("valid"), "y", np.zeros((n, 1, 1, 1), np.uint8))
    with pytest.warns(UserWarning, match="32768"):
        PCam(tmp_path, "valid")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_pcam(tmp_path / "small", 4, splits=["valid"], progress=False)
        PCam(tmp_path / "small", "valid")  # a small set claims nothing

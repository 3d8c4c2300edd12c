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
    assert data.split == "val" and len(data) == 8
    assert PCam(tmp_path, "valid").split == "val"
    torchvision_pcam = pytest.importorskip("torchvision.datasets").PCAM(tmp_path, split="val")
    image, label = torchvision_pcam[2]
    assert np.array_equal(np.asarray(image), data[2][0].permute(1, 2, 0).numpy())
    assert label == data[2][1]
    with pytest.raises(ValueError, match="unknown PCam split"):
        PCam(root, "testA")


def _scale(image):
    return image.float() / 255


def _times_ten(label):
    return label * 10


def test_transforms_and_sample_info(root):
    data = PCam(root, "test", transform=_scale, target_transform=_times_ten)
    image, label = data[1]
    assert image.dtype == torch.float32 and label in (0, 10)
    info = data.sample_info(1)
    assert set(info) == {"file", "labels_file", "split", "index", "label", "patient", "slide",
                         "coord_y", "coord_x", "tumor_patch", "center_tumor_patch"}
    assert info["index"] == 1 and info["center_tumor_patch"] == (label == 10)
    assert info["file"] == str(root / X.format("test")) and info["split"] == "test"
    assert info["slide"].startswith("camelyon16_test_") and info["patient"] == info["slide"]
    assert isinstance(info["coord_y"], int) and data.sample_info(-7) == info
    batch = data.__getitems__([1, 2])
    assert batch[0][0].dtype == torch.float32 and batch[0][1] == label
    joint = PCam(root, "test", transforms=lambda im, y: (_scale(im), _times_ten(y)))
    assert torch.equal(joint[1][0], image) and joint[1][1] == label
    loader = DataLoader(data, batch_size=4)
    images, labels = next(iter(loader))
    assert images.shape == (4, 3, 96, 96) and labels.dtype == torch.int64
    bare = PCam(root, "test", meta=False).sample_info(1)
    assert bare["slide"] is None and bare["coord_y"] is None and bare["label"] == info["label"]


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
    ],
)
def test_bad_meta_file(root, tmp_path, text, message):
    _split_copy(root, tmp_path)
    (tmp_path / META.format("valid")).write_text(text)
    with pytest.raises(DataFormatError, match=message):
        PCam(tmp_path, "valid")
    assert len(PCam(tmp_path, "valid", meta=False)) == 8  # meta=False does not read it


def test_garbled_or_missing_meta(root, tmp_path):
    _split_copy(root, tmp_path)
    (tmp_path / META.format("valid")).write_bytes(b"\xff\xfe\x00garbage" * 50)
    with pytest.raises(DataFormatError, match=META.format("valid")):
        PCam(tmp_path, "valid")
    (tmp_path / META.format("valid")).unlink()
    data = PCam(tmp_path, "valid")  # no meta CSV: the patches alone, without slide fields
    assert data.problems == [] and data.sample_info(0)["slide"] is None


def _meta_lines(root, tmp_path):
    _split_copy(root, tmp_path)
    return (tmp_path / META.format("valid")).read_text().splitlines()


def test_unreadable_meta_row_is_flagged(root, tmp_path, caplog):
    lines = _meta_lines(root, tmp_path)
    lines[3] = lines[3].replace("True", "yes").replace("False", "yes")
    (tmp_path / META.format("valid")).write_text("\n".join(lines) + "\n")
    data = PCam(tmp_path, "valid")
    assert len(data) == 8 and data.sample_info(2)["slide"] is None
    assert data.sample_info(3)["slide"] is not None
    [problem] = data.problems
    assert problem.file.endswith(META.format("valid")) and problem.row == 4
    [warning] = [r for r in caplog.records if r.levelname == "WARNING"]
    assert f"{META.format('valid')}, row 4" in warning.getMessage()
    with pytest.raises(DataFormatError, match="row 4: cannot read"):
        PCam(tmp_path, "valid", strict=True)


def test_meta_row_disagreeing_with_the_label_is_flagged(root, tmp_path):
    lines = _meta_lines(root, tmp_path)
    fields = lines[6].split(",")
    fields[4] = "False" if fields[4] == "True" else "True"  # center_tumor_patch of patch 5
    lines[6] = ",".join(fields)
    (tmp_path / META.format("valid")).write_text("\n".join(lines) + "\n")
    data = PCam(tmp_path, "valid")
    _, y = _arrays(root, "valid")
    assert data[5][1] == int(y[5])  # the label file wins
    [problem] = data.problems
    assert problem.row == 7 and "center_tumor_patch" in problem.message
    with pytest.raises(DataFormatError, match="center_tumor_patch"):
        PCam(tmp_path, "valid", strict=True)


def test_bad_label_skips_one_patch(root, tmp_path):
    _split_copy(root, tmp_path)
    x, y = _arrays(root, "valid")
    y = y.copy()
    y[2] = 3
    _write(tmp_path / Y.format("valid"), "y", y.reshape(-1, 1, 1, 1))
    data = PCam(tmp_path, "valid")
    assert len(data) == 7 and data.problems[0].row == "y[2]"
    assert "label 3" in data.problems[0].message
    np.testing.assert_array_equal(data[2][0].permute(1, 2, 0).numpy(), x[3])
    assert data.sample_info(2)["index"] == 3 and data.__getitems__([2])[0][1] == int(y[3])
    with pytest.raises(DataFormatError, match=r"y\[2\]: label 3"):
        PCam(tmp_path, "valid", strict=True)


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

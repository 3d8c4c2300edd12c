"""BreCaHAD reader: layout, annotations, splits, patch sampling, boxes, bad input, and the
release as distributed (images/, groundTruth/ or groundtruth/, seven keys, normalised points)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from torch.utils.data import DataLoader
from torchvision import tv_tensors
from torchvision.transforms import v2

from histomammo.datasets._brecahad_files import find_pairs
from histomammo.datasets.brecahad import (
    BRECAHAD_KEYS,
    BreCaHAD,
    collate_detection,
    list_images,
    read_annotations,
    split_brecahad,
)
from histomammo.datasets.synthetic import make_brecahad
from histomammo.errors import DataFormatError, MissingFileError

SIZE = (128, 170)
PATCH = (64, 85)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return make_brecahad(tmp_path_factory.mktemp("brecahad"), n_cases=4,
                         images_per_case=(2, 3, 1, 2), size=SIZE, nuclei=(6, 8), seed=1)


def _data(root, split="train", **kw):
    kw.setdefault("group_by_case", False)
    return BreCaHAD(root, split, patch_size=PATCH, image_size=SIZE, **kw)


def _write_json(path, **points):
    doc = {key: [] for key in BRECAHAD_KEYS}
    doc.update(points)
    path.write_text(json.dumps(doc))
    return path


def test_synthetic_layout_is_exact(root):
    names = sorted(p.name for p in (root / "images").iterdir())
    assert names[:3] == ["Case_1-01.tif", "Case_1-02.tif", "Case_2-01.tif"] and len(names) == 8
    image = tifffile.imread(root / "images" / "Case_2-03.tif")
    assert image.shape == (*SIZE, 3) and image.dtype == np.uint8
    doc = json.loads((root / "groundTruth" / "Case_2-03.json").read_text())
    assert tuple(doc) == BRECAHAD_KEYS and doc["tumor"] and doc["non_tumor"]
    # tumour nuclei are darker than the other nuclei and than the stroma
    points = read_annotations(root / "groundTruth" / "Case_2-03.json", SIZE[1], SIZE[0])
    value = image.mean(axis=2)
    tumour = [value[int(r), int(c)] for c, r in points["tumor"]]
    other = [value[int(r), int(c)] for c, r in points["non_tumor"]]
    assert np.mean(tumour) < np.mean(other) < np.median(value)


def test_read_annotations_scales_and_keeps_empty_keys(tmp_path):
    path = _write_json(tmp_path / "a.json", tumor=[{"x": 0.5, "y": 0.25}, {"x": 1, "y": 0}])
    points = read_annotations(path, width=1360, height=1024)
    assert set(points) == set(BRECAHAD_KEYS)
    assert points["tumor"].tolist() == [[680.0, 256.0], [1360.0, 0.0]]
    assert points["mitosis"].shape == (0, 2) and points["mitosis"].dtype == np.float64


@pytest.mark.parametrize("content, message", [
    ("[1, 2]", "holds a JSON list; expected an object"),
    ('{"tumor": []', "not valid JSON"),
    (b"\xff\xfe\x00garbage", "not valid JSON"),
    (json.dumps({"tumor": []}), "missing keys"),
    (json.dumps({**{k: [] for k in BRECAHAD_KEYS}, "stroma": []}), "unknown keys"),
    (json.dumps({**{k: [] for k in BRECAHAD_KEYS}, "tumor": {"x": 0.1}}), "expected a list"),
    (json.dumps({**{k: [] for k in BRECAHAD_KEYS}, "tumor": [{"x": "0.1", "y": 0.2}]}),
     "type str; expected a number"),
    (json.dumps({**{k: [] for k in BRECAHAD_KEYS}, "tumor": [{"x": 1.5, "y": 0.2}]}),
     r"expected a normalised value in \[0, 1\]"),
    (json.dumps({**{k: [] for k in BRECAHAD_KEYS}, "tumor": [[0.1, 0.2]]}), "expected an object"),
])
def test_read_annotations_refuses_bad_files(tmp_path, content, message):
    path = tmp_path / "Case_9-01.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(DataFormatError, match=message) as info:
        read_annotations(path)
    assert "Case_9-01.json" in str(info.value)
    with pytest.raises(MissingFileError, match="nope.json"):
        read_annotations(tmp_path / "nope.json")


def test_paper_split_counts_and_case_grouping():
    sizes = [4, 6, 8, 5, 7, 6, 3, 9, 6, 5, 7, 6, 4, 8, 6, 6, 5, 7, 6, 4, 8, 6, 5, 7, 6, 3, 9]
    names = [f"Case_{c}-{i:02d}" for c, n in enumerate(sizes, 1) for i in range(1, n + 1)]
    assert len(names) == 162
    exact = split_brecahad(names, seed=0, group_by_case=False)
    assert [len(exact[k]) for k in ("train", "val", "test")] == [138, 12, 12]
    grouped = split_brecahad(names, seed=0)
    cases = {k: {n.split("-")[0] for n in v} for k, v in grouped.items()}
    assert not (cases["train"] & cases["val"] or cases["train"] & cases["test"]
                or cases["val"] & cases["test"])
    assert sorted(sum(grouped.values(), [])) == sorted(names)
    assert abs(len(grouped["val"]) - 12) <= 1 and abs(len(grouped["test"]) - 12) <= 1
    assert split_brecahad(names, seed=0) == grouped != split_brecahad(names, seed=1)


def test_custom_split_and_folder_case(tmp_path, root):
    copy = tmp_path / "copy"
    make_brecahad(copy, n_cases=1, images_per_case=3, size=SIZE, groundtruth_dirname="groundtruth")
    (copy / "images").rename(copy / "Images")
    data = BreCaHAD(copy, "val", names=["Case_1-02"], patch_size=PATCH, image_size=SIZE)
    assert data.names == ["Case_1-02"] and len(data) == 5
    with pytest.raises(ValueError, match="no image named"):
        BreCaHAD(copy, names=["Case_7-01"], patch_size=PATCH, image_size=SIZE)


def test_patches_per_split_and_fixed_positions(root):
    train, val, test = (_data(root, s) for s in ("train", "val", "test"))
    assert len(train) == len(train.names) and len(val) == 5 * len(val.names)
    assert len(test) == 10 * len(test.names)
    first = [train.region(i) for i in range(len(train))]
    train.set_epoch(1)
    assert [train.region(i) for i in range(len(train))] != first
    train.set_epoch(0)
    assert [train.region(i) for i in range(len(train))] == first
    regions = [val.region(i) for i in range(len(val))]
    val.set_epoch(7)
    assert [_data(root, "val").region(i) for i in range(len(val))] == regions
    assert [val.region(i) for i in range(len(val))] == regions
    assert len(set(regions)) > 1


def test_sample_pixels_boxes_and_sample_info(root):
    data = _data(root, "test", classes={"tumor": 1, "non_tumor": 2}, min_inside=0.5)
    for index in range(len(data)):
        image, target = data[index]
        origin = data.sample_info(index)
        assert set(target) == {"boxes", "labels", "image_id"}
        assert isinstance(image, tv_tensors.Image) and image.dtype == torch.uint8
        full = tifffile.imread(origin["file"])
        crop = full[origin["top"]:origin["top"] + PATCH[0], origin["left"]:origin["left"] + PATCH[1]]
        np.testing.assert_array_equal(image.permute(1, 2, 0).numpy(), crop)
        assert origin["patient"] == origin["name"].split("-")[0] and origin["split"] == "test"
        assert origin["annotation"].endswith(origin["name"] + ".json")
        boxes = target["boxes"]
        assert isinstance(boxes, tv_tensors.BoundingBoxes) and boxes.format.value == "XYXY"
        assert target["labels"].dtype == torch.int64 and len(target["labels"]) == len(boxes)
        assert ((boxes[:, :2] >= 0) & (boxes[:, 2:] <= torch.tensor([PATCH[1], PATCH[0]]))).all()
        assert set(target["labels"].tolist()) <= {1, 2}
        # every kept box has at least half its area inside the patch
        assert ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) >= 0.5 * 32**2 - 1e-3).all()
        assert data.names[target["image_id"]] == origin["name"]


def test_min_inside_and_empty_targets(tmp_path):
    root = tmp_path / "one"
    make_brecahad(root, n_cases=1, images_per_case=1, size=SIZE)
    # one cell at the very corner: a 32 px box has a quarter of its area inside the image
    _write_json(root / "groundTruth" / "Case_1-01.json", tumor=[{"x": 0.0, "y": 0.0}])
    kw = dict(names=["Case_1-01"], patch_size=SIZE, image_size=SIZE)
    assert len(BreCaHAD(root, "test", min_inside=0.5, **kw)[0][1]["boxes"]) == 0
    kept = BreCaHAD(root, "test", min_inside=0.2, **kw)[0][1]
    assert kept["boxes"].tolist() == [[0.0, 0.0, 16.0, 16.0]]
    _write_json(root / "groundTruth" / "Case_1-01.json")
    image, empty = BreCaHAD(root, "test", **kw)[0]
    assert empty["boxes"].shape == (0, 4) and empty["labels"].shape == (0,)


def test_downscale_mode(root):
    data = _data(root, "val", patches="downscale")
    image, target = data[0]
    assert len(data) == len(data.names) and image.shape == (3, *PATCH)
    assert data.sample_info(0)["scale"] == pytest.approx(0.5)
    assert image.dtype == torch.uint8
    full = torch.from_numpy(tifffile.imread(data.sample_info(0)["file"])).permute(2, 0, 1)
    area = torch.nn.functional.avg_pool2d(full[None].float(), 2)[0]
    assert (image.float() - area).abs().max() <= 0.5  # area interpolation, rounded
    crop = _data(root, "val", patches="crop", classes={"tumor": 1})
    assert crop.box_size == 32.0
    sides = target["boxes"][:, 2:] - target["boxes"][:, :2]
    assert (sides <= 16.0 + 1e-4).all()  # 32 px boxes halved


def test_augmentation_flips_boxes_and_sanitizes(root):
    plain, flipped = _data(root, "test"), _data(root, "test", transforms=v2.RandomHorizontalFlip(1.0))
    index = next(i for i in range(len(plain)) if len(plain[i][1]["boxes"]))
    (a, ta), (b, tb) = plain[index], flipped[index]
    torch.testing.assert_close(b, a.flip(-1))
    torch.testing.assert_close(tb["boxes"][:, [2, 0]], PATCH[1] - ta["boxes"][:, [0, 2]])
    squash = _data(root, "test", transforms=v2.Resize((2, 2)))
    assert len(squash[index][1]["boxes"]) <= len(ta["boxes"])


def test_pickles_and_loads_in_workers(root):
    data = pickle.loads(pickle.dumps(_data(root, "val")))
    loader = DataLoader(data, batch_size=3, num_workers=1, collate_fn=collate_detection)
    images, targets = next(iter(loader))
    assert len(images) == 3 and targets[0]["image_id"] == 0


def test_unpaired_files_are_left_out(tmp_path, caplog):
    root = make_brecahad(tmp_path / "r", n_cases=1, images_per_case=3, size=SIZE)
    (root / "groundTruth" / "Case_1-02.json").rename(tmp_path / "moved.json")
    _write_json(root / "groundTruth" / "Case_1-09.json")
    data = BreCaHAD(root, names=["Case_1-01"], image_size=SIZE, patch_size=PATCH)
    assert data.names == ["Case_1-01"]
    assert [Path(p.file).name for p in data.problems] == ["Case_1-02.tif", "Case_1-09.json"]
    assert "no counterpart" in caplog.text
    with pytest.raises(MissingFileError, match=r"Case_1-02.tif: no counterpart"):
        BreCaHAD(root, names=["Case_1-01"], image_size=SIZE, patch_size=PATCH, strict=True)
    with pytest.raises(MissingFileError, match=r"Case_1-02.tif: has no counterpart"):
        find_pairs(root)  # alone, the layout function raises
    assert list_images(root) == ["Case_1-01", "Case_1-03"]  # the paired ones, a warning each
    with pytest.raises(MissingFileError, match=r"Case_1-02.tif: has no counterpart"):
        list_images(root, strict=True)


def test_one_garbled_annotation_skips_one_image(tmp_path):
    root = make_brecahad(tmp_path / "r", n_cases=1, images_per_case=3, size=SIZE)
    (root / "groundTruth" / "Case_1-02.json").write_text('{"tumor": [')
    names = ["Case_1-01", "Case_1-02", "Case_1-03"]
    data = BreCaHAD(root, "test", names=names, image_size=SIZE, patch_size=PATCH)
    assert data.names == ["Case_1-01", "Case_1-03"] and len(data) == 20
    [problem] = data.problems
    assert problem.file.endswith("Case_1-02.json") and "not valid JSON" in problem.message
    with pytest.raises(DataFormatError, match="Case_1-02.json: not valid JSON"):
        BreCaHAD(root, "test", names=names, image_size=SIZE, patch_size=PATCH, strict=True)


def test_wrong_and_truncated_images_are_skipped(tmp_path):
    root = make_brecahad(tmp_path / "r", n_cases=1, images_per_case=2, size=SIZE)
    kw = dict(names=["Case_1-01", "Case_1-02"], patch_size=PATCH)
    with pytest.raises(DataFormatError, match=r"Case_1-01.tif: image is 128 x 170; expected"):
        BreCaHAD(root, image_size=(1024, 1360), strict=True, **kw)
    with pytest.raises(DataFormatError, match="every train image was skipped"):
        BreCaHAD(root, image_size=(1024, 1360), **kw)
    tif = root / "images" / "Case_1-01.tif"
    for pixels, message in ((np.zeros((*SIZE, 3), np.uint16), "dtype uint16"),
                            (np.zeros(SIZE, np.uint8), "expected an RGB uint8")):
        tifffile.imwrite(tif, pixels)
        data = BreCaHAD(root, image_size=SIZE, **kw)
        assert data.names == ["Case_1-02"] and message in data.problems[0].message
        with pytest.raises(DataFormatError, match=message):
            BreCaHAD(root, image_size=SIZE, strict=True, **kw)
    tifffile.imwrite(tif, np.zeros((*SIZE, 3), np.uint8), photometric="rgb")
    tif.write_bytes(tif.read_bytes()[:200])
    with pytest.raises(DataFormatError, match="Case_1-01.tif"):
        BreCaHAD(root, image_size=SIZE, strict=True, **kw)
    with pytest.raises(MissingFileError, match="no such folder"):
        BreCaHAD(tmp_path / "absent")


def test_bad_arguments(root):
    for kw, message in ((dict(patches="resize"), "patches must be"),
                        (dict(classes={"stroma": 1}), "unknown keys"),
                        (dict(classes={"tumor": 0}), "ints >= 1"),
                        (dict(min_inside=0), "min_inside"),
                        (dict(box_size=-1), "box_size")):
        with pytest.raises(ValueError, match=message):
            _data(root, **kw)
    with pytest.raises(ValueError, match="unknown BreCaHAD split 'testA'"):
        BreCaHAD(root, "testA")
    assert _data(root, "valid").split == "val"
    assert _data(root, "valid").names == _data(root, "val").names
    with pytest.raises(DataFormatError, match="smaller than"):
        BreCaHAD(root, names=["Case_1-01"], patch_size=(512, 680), image_size=SIZE, strict=True)


# The release as distributed (issue 20): make_brecahad writes it so by default.


def test_release_layout_images_and_groundtruth_folders(root):
    assert sorted(p.name for p in root.iterdir()) == ["groundTruth", "images"]
    for spelling in ("groundtruth", "GroundTruth"):
        copy = root.parent / f"copy_{spelling}"
        make_brecahad(copy, n_cases=1, images_per_case=1, size=SIZE, groundtruth_dirname=spelling)
        assert BreCaHAD(copy, "test", names=["Case_1-01"], patch_size=PATCH,
                        image_size=SIZE).names == ["Case_1-01"]


def test_release_seven_keys_including_non_mitosis(root):
    doc = json.loads((root / "groundTruth" / "Case_1-01.json").read_text())
    assert set(doc) == {"mitosis", "non_mitosis", "apoptosis", "tumor", "non_tumor", "lumen",
                        "non_lumen"}
    data = _data(root, "test", classes={key: i for i, key in enumerate(BRECAHAD_KEYS, 1)})
    assert data.problems == [] and len(data[0][1]["labels"]) > 0


def test_release_coordinates_divided_by_width_and_height(tmp_path):
    root = make_brecahad(tmp_path / "r", n_cases=1, images_per_case=1, size=SIZE)
    _write_json(root / "groundTruth" / "Case_1-01.json", tumor=[{"x": 0.5, "y": 0.25}])
    data = BreCaHAD(root, "test", names=["Case_1-01"], patch_size=SIZE, image_size=SIZE)
    centre = (data[0][1]["boxes"][0, :2] + data[0][1]["boxes"][0, 2:]) / 2
    assert centre.tolist() == [0.5 * SIZE[1], 0.25 * SIZE[0]]  # x by width, y by height

"""Tests of histomammo.datasets.glas: the flat Warwick-QU layout, targets, laziness, bad input,
and the released ``Grade.csv``'s quirks."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from histomammo.datasets import collate_detection
from histomammo.datasets.glas import GlaS, read_glas_annotation, read_grade_csv
from histomammo.datasets.synthetic import make_glas
from histomammo.errors import DataFormatError, MissingFileError
from histomammo.systems.glas import glas_augmentation

COUNTS = {"train": 11, "testA": 2, "testB": 1}


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return make_glas(tmp_path_factory.mktemp("glas"), counts=COUNTS, size=(48, 64), seed=0)


def _copy(root: Path, tmp_path: Path) -> Path:
    for path in root.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    return tmp_path


def test_smoke(root: Path) -> None:
    for split, count in COUNTS.items():
        assert len(GlaS(root, split)) == count
    assert len(GlaS(root, "test")) == COUNTS["testA"] + COUNTS["testB"]
    data = GlaS(root, "train")
    # numeric order, as the release numbers its images (train_10 after train_9)
    names = [data.sample_info(i)["name"] for i in range(len(data))]
    assert names[8:] == ["train_9", "train_10", "train_11"]
    image, target = data[0]
    assert image.shape == (3, 48, 64) and image.dtype == torch.uint8
    n = len(target["masks"])
    assert target["masks"].shape == (n, 48, 64) and target["boxes"].shape == (n, 4)
    assert target["labels"].tolist() == [1] * n
    labels = data.labels(0)
    assert n == len(np.unique(labels)) - 1
    assert set(target) == {"boxes", "labels", "masks", "image_id"} and target["image_id"] == 0
    grades = read_grade_csv(root / "Grade.csv")
    info = data.sample_info(0)
    assert info["name"] == "train_1" and info["part"] == "train" and info["split"] == "train"
    assert info["file"] == str(root / "train_1.bmp") and info["size"] == (48, 64)
    assert info["annotation"] == str(root / "train_1_anno.bmp")
    assert info["grade"] == grades["train_1"]["grade (GlaS)"]
    assert info["patient"] == int(grades["train_1"]["patient ID"])
    assert data.problems == []


def test_semantic_target(root: Path) -> None:
    image, target = GlaS(root, "testA", target="semantic")[1]
    labels = GlaS(root, "testA").labels(1)
    assert target["mask"].shape == (48, 64)
    assert torch.equal(target["mask"], torch.from_numpy((labels > 0).astype(np.uint8)))
    assert set(target) == {"mask", "image_id"}


def test_instances_are_never_relabelled_by_connectivity(tmp_path: Path) -> None:
    root = make_glas(tmp_path, counts={"train": 1}, size=(20, 20), seed=0)
    labels = np.zeros((20, 20), np.uint8)
    labels[2:8, 2:8] = 3  # two touching glands: they must stay two
    labels[2:8, 8:14] = 9
    labels[12:15, 2:5] = 4  # one gland in two pieces: it must stay one
    labels[12:15, 10:13] = 4
    Image.fromarray(labels).save(root / "train_1_anno.bmp")
    _, target = GlaS(root, "train")[0]
    masks = target["masks"]
    assert len(masks) == 3
    assert sorted(int(m.sum()) for m in masks) == [18, 36, 36]
    assert torch.equal(target["boxes"][0], torch.tensor([2.0, 2.0, 8.0, 8.0]))


def test_dataset_holds_no_pixel_data(root: Path) -> None:
    data = GlaS(root, "train", transforms=glas_augmentation(32))

    def arrays(obj, seen=()):
        if isinstance(obj, (np.ndarray, torch.Tensor, Image.Image)):
            yield obj
        elif isinstance(obj, dict):
            for value in obj.values():
                yield from arrays(value)
        elif isinstance(obj, (list, tuple)):
            for value in obj:
                yield from arrays(value)
        elif hasattr(obj, "__dict__") and not isinstance(obj, torch.nn.Module):
            yield from arrays(vars(obj))

    assert list(arrays(vars(data))) == []
    assert len(pickle.dumps(data)) < 20_000  # paths and grades, not 11 images of pixels


def test_paired_augmentation_moves_masks_with_the_image(root: Path) -> None:
    plain = GlaS(root, "train", target="semantic")
    flipped = GlaS(root, "train", target="semantic",
                   transforms=glas_augmentation(crop_size=48, p=1.0))
    torch.manual_seed(0)
    image, target = flipped[2]
    original, original_target = plain[2]
    # the crop is 48 high: the whole height; flips are both applied
    width = image.shape[-1]
    assert image.shape[-2:] == (48, 48)
    for left in range(0, 64 - width + 1):
        expected = original[:, :, left:left + width].flip(-1).flip(-2)
        if torch.equal(image, expected):
            mask = original_target["mask"][:, left:left + width].flip(-1).flip(-2)
            assert torch.equal(target["mask"], mask)
            break
    else:
        pytest.fail("the augmented image is not a flipped crop of the original")


def test_instances_after_crop_drop_empty_masks(root: Path) -> None:
    data = GlaS(root, "train", transforms=glas_augmentation(crop_size=16, p=1.0))
    torch.manual_seed(1)
    for index in range(len(data)):
        _, target = data[index]
        masks = target["masks"]
        assert masks.shape[-2:] == (16, 16)
        assert all(bool(m.any()) for m in masks)
        assert len(target["boxes"]) == len(masks) == len(target["labels"])


def test_pickles_and_loads_in_workers(root: Path) -> None:
    data = pickle.loads(pickle.dumps(GlaS(root, "testA")))
    loader = DataLoader(data, batch_size=2, num_workers=1, collate_fn=collate_detection)
    images, targets = next(iter(loader))
    assert [t["image_id"] for t in targets] == [0, 1]
    assert images[0].shape == (3, 48, 64)


def test_grade_csv_leading_spaces(tmp_path: Path) -> None:
    path = tmp_path / "Grade.csv"
    path.write_text("name,patient ID, grade (GlaS), grade (Sirinukunwattana et al. 2015)\n"
                    "testA_1, 4, benign, adenomatous\n"
                    "train_7, 12, malignant, moderately differentiated\n")
    table = read_grade_csv(path)
    assert table["train_7"] == {
        "name": "train_7", "patient ID": "12", "grade (GlaS)": "malignant",
        "grade (Sirinukunwattana et al. 2015)": "moderately differentiated", "row": 3,
    }


def test_bad_arguments(root: Path) -> None:
    for split in ("val", "valid", "testC"):
        with pytest.raises(ValueError, match="split"):
            GlaS(root, split)
    with pytest.raises(ValueError, match="target"):
        GlaS(root, "train", target="boxes")


def test_missing_annotation_skips_the_image(root: Path, tmp_path: Path, caplog) -> None:
    copy = _copy(root, tmp_path)
    (copy / "train_3_anno.bmp").unlink()
    data = GlaS(copy, "train")
    assert len(data) == COUNTS["train"] - 1
    assert "train_3" not in [data.sample_info(i)["name"] for i in range(len(data))]
    [problem] = data.problems
    assert problem.file == str(copy / "train_3.bmp") and "train_3_anno.bmp" in problem.message
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "train_3_anno.bmp" in warnings[0].getMessage()
    with pytest.raises(MissingFileError, match="train_3_anno.bmp"):
        GlaS(copy, "train", strict=True)


def test_annotation_size_differs_skips_the_image(root: Path, tmp_path: Path) -> None:
    copy = _copy(root, tmp_path)
    Image.fromarray(np.zeros((40, 64), np.uint8)).save(copy / "testA_1_anno.bmp")
    data = GlaS(copy, "testA")
    assert len(data) == 1 and data.sample_info(0)["name"] == "testA_2"
    assert "64x40" in data.problems[0].message
    with pytest.raises(DataFormatError, match=r"testA_1_anno.bmp.*64x40.*64x48"):
        GlaS(copy, "testA", strict=True)
    Image.fromarray(np.zeros((40, 64), np.uint8)).save(copy / "testB_1_anno.bmp")
    with pytest.raises(DataFormatError, match="every testB image was skipped"):
        GlaS(copy, "testB")


def test_exception_colour_annotation(root: Path, tmp_path: Path) -> None:
    copy = _copy(root, tmp_path)
    colour = np.zeros((48, 64, 3), np.uint8)
    colour[5:10, 5:10] = (255, 0, 0)
    Image.fromarray(colour).save(copy / "testB_1_anno.bmp")
    with pytest.raises(DataFormatError, match="testB_1_anno.bmp.*colour"):
        GlaS(copy, "testB").labels(0)
    with pytest.raises(DataFormatError, match="testB_1_anno.bmp.*colour"):
        read_glas_annotation(copy / "testB_1_anno.bmp")


def test_grey_rgb_annotation_is_accepted(root: Path, tmp_path: Path) -> None:
    copy = _copy(root, tmp_path)
    labels = GlaS(copy, "testB").labels(0).astype(np.uint8)
    Image.fromarray(np.stack([labels] * 3, axis=-1)).save(copy / "testB_1_anno.bmp")
    assert np.array_equal(GlaS(copy, "testB").labels(0), labels)


def test_grade_csv_without_a_row_keeps_the_image(root: Path, tmp_path: Path) -> None:
    copy = _copy(root, tmp_path)
    lines = (copy / "Grade.csv").read_text().splitlines()
    (copy / "Grade.csv").write_text("\n".join(x for x in lines if not x.startswith("testA_2,")))
    data = GlaS(copy, "testA")
    assert len(data) == 2 and data.sample_info(1)["patient"] is None
    assert data.sample_info(1)["grade"] is None and "no row for testA_2" in str(data.problems[0])
    with pytest.raises(DataFormatError, match=r"Grade.csv.*testA_2"):
        GlaS(copy, "testA", strict=True)


def test_grade_csv_row_without_image_is_a_problem(root: Path, tmp_path: Path) -> None:
    copy = _copy(root, tmp_path)
    with open(copy / "Grade.csv", "a") as f:
        f.write("\ntestA_99, 3, benign, healthy\ntestA_1, 4\ntestA_2, x, benign, healthy\n")
    data = GlaS(copy, "testA")
    assert len(data) == 2
    messages = [str(p) for p in data.problems]
    assert any("testA_99" in m and "no testA_99.bmp" in m for m in messages)
    assert any("2 fields" in m for m in messages)  # a short row, skipped
    assert any("repeats the name 'testA_2'" in m for m in messages)
    assert all("Grade.csv, row" in m for m in messages)
    assert len(GlaS(copy, "train").problems) == 2  # testA's rows are not train's problem
    with pytest.raises(DataFormatError, match=r"Grade.csv, row \d+"):
        GlaS(copy, "testA", strict=True)
    with pytest.raises(DataFormatError, match="Grade.csv"):
        read_grade_csv(copy / "Grade.csv")  # the function alone raises by default


def test_bad_patient_id_is_flagged(root: Path, tmp_path: Path) -> None:
    copy = _copy(root, tmp_path)
    lines = [line for line in (copy / "Grade.csv").read_bytes().split(b"\r")
             if not line.startswith(b"testB_1,")]
    (copy / "Grade.csv").write_bytes(b"\r".join(lines + [b"testB_1, P7, benign, healthy"]))
    data = GlaS(copy, "testB")
    assert data.sample_info(0)["patient"] is None and data.sample_info(0)["grade"] == "benign"
    assert "patient ID 'P7'" in data.problems[0].message


def test_exception_grade_csv_wrong_columns(root: Path, tmp_path: Path) -> None:
    copy = _copy(root, tmp_path)
    (copy / "Grade.csv").write_text("name,grade\ntestA_1,benign\n")
    with pytest.raises(DataFormatError, match=r"Grade.csv.*patient ID"):
        GlaS(copy, "testA")
    (copy / "Grade.csv").write_bytes(b"\xff\xfe\x00garbage\x80")
    with pytest.raises(DataFormatError, match="Grade.csv"):
        GlaS(copy, "testA")
    (copy / "Grade.csv").unlink()
    with pytest.raises(MissingFileError, match="Grade.csv"):
        GlaS(copy, "testA")


def test_exception_truncated_image(root: Path, tmp_path: Path) -> None:
    copy = _copy(root, tmp_path)
    data = (copy / "testA_1.bmp").read_bytes()
    (copy / "testA_1.bmp").write_bytes(data[: len(data) // 2])
    dataset = GlaS(copy, "testA")  # the header is intact: found on access
    with pytest.raises(DataFormatError, match="testA_1.bmp.*truncated"):
        dataset[0]


def test_exception_garbled_and_wrong_mode_files(root: Path, tmp_path: Path) -> None:
    copy = _copy(root, tmp_path)
    (copy / "testA_2.bmp").write_bytes(b"not a bitmap at all" * 10)
    assert len(GlaS(copy, "testA")) == 1
    with pytest.raises(DataFormatError, match="testA_2.bmp.*cannot be decoded"):
        GlaS(copy, "testA", strict=True)
    copy2 = _copy(root, tmp_path / "b") if (tmp_path / "b").mkdir() is None else None
    Image.fromarray(np.zeros((48, 64), np.uint8)).save(copy2 / "testB_1.bmp")
    with pytest.raises(DataFormatError, match="testB_1.bmp.*mode 'L'.*RGB"):
        GlaS(copy2, "testB")[0]
    with pytest.raises(MissingFileError, match="nowhere"):
        GlaS(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataFormatError, match="no train_<n>.bmp"):
        GlaS(empty)


# The released Grade.csv's quirks (issue 20), made by make_glas by default.


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    """A synthetic release of the real size (85/60/20 images), small images."""
    return make_glas(tmp_path_factory.mktemp("release"), size=(24, 32), seed=1)


def test_release_grade_csv_cr_line_ends_and_no_final_newline(release: Path) -> None:
    raw = (release / "Grade.csv").read_bytes()
    assert b"\n" not in raw and raw.count(b"\r") == 165 and not raw.endswith(b"\r")
    table = read_grade_csv(release / "Grade.csv")
    assert len(table) == 165 and table["train_85"]["row"] > 1  # the last line is read
    assert sum(len(GlaS(release, s)) for s in ("train", "testA", "testB")) == 165


def test_release_grade_csv_no_space_before_patient_id(release: Path) -> None:
    raw = (release / "Grade.csv").read_bytes().split(b"\r")
    assert any(line.startswith(b"testA_1,") and line[8:9] != b" " for line in raw)
    assert any(line.startswith(b"train_1,") and line[8:9] == b" " for line in raw)
    data = GlaS(release, "testA")
    assert all(isinstance(data.sample_info(i)["patient"], int) for i in range(len(data)))
    assert data.problems == []


def test_release_misspelled_subgrade_is_kept(release: Path) -> None:
    table = read_grade_csv(release / "Grade.csv")
    subgrades = [row["grade (Sirinukunwattana et al. 2015)"] for row in table.values()]
    assert subgrades.count("moderately-to-poorly differentated") == 20
    assert all(row["grade (GlaS)"] == "malignant" for row in table.values()
               if "differentated" in row["grade (Sirinukunwattana et al. 2015)"])


def test_release_patients_recur_across_parts_and_mix_grades(release: Path) -> None:
    patients, grades = {}, {}
    for part in ("train", "testA", "testB"):
        data = GlaS(release, part)
        for i in range(len(data)):
            info = data.sample_info(i)
            patients.setdefault(part, set()).add(info["patient"])
            grades.setdefault((part, info["patient"]), set()).add(info["grade"])
    assert set().union(*patients.values()) <= set(range(1, 17))
    assert patients["train"] & patients["testA"] & patients["testB"]  # not patient-disjoint
    assert sum(len(g) == 2 for g in grades.values()) == 5  # (part, patient) pairs mixing


def test_release_quirks_read_as_the_clean_file(tmp_path: Path) -> None:
    counts = {"train": 4, "testA": 3, "testB": 2}
    quirky = make_glas(tmp_path / "a", counts=counts, size=(16, 16), seed=2)
    clean = make_glas(tmp_path / "b", counts=counts, size=(16, 16), seed=2, quirks=False)
    assert b"\r" not in (clean / "Grade.csv").read_bytes()
    assert read_grade_csv(quirky / "Grade.csv") == read_grade_csv(clean / "Grade.csv")


def test_masks_target_follows_the_masks_device() -> None:
    # after a transform that moved the masks (here to "meta"), boxes and labels go with them;
    # the empty case is the one the meta device can run (dropping empty masks needs values)
    from histomammo.datasets.glas import _masks_target

    target = _masks_target(torch.zeros((0, 8, 8), dtype=torch.uint8, device="meta"))
    assert {t.device.type for t in target.values()} == {"meta"}
    assert target["boxes"].shape == (0, 4) and target["labels"].dtype == torch.int64

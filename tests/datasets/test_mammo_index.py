"""Tests of histomammo.datasets.mammo_index: a real, incremental, transactional SQLite index."""

from __future__ import annotations

import os
import pickle
import sqlite3

import pytest
import torch

from histomammo.datasets import mammo_index
from histomammo.datasets.mammo_index import MammoIndex
from histomammo.datasets.synthetic import make_screening_archive


@pytest.fixture
def tree(tmp_path):
    return make_screening_archive(tmp_path / "archive", n_patients=5, shape=(64, 64), seed=0)[0]


def _files(tree):
    return sorted(p for p in tree.rglob("*") if p.is_file())


def test_build_fields_and_query(tree, tmp_path):
    with MammoIndex(tmp_path / "index.sqlite") as index:
        report = index.build(tree, progress=False)
        assert report.added == len(index) == 40 and not report.failed
        rows = index.query(view="CC", laterality="R")
        assert len(rows) == 10 and all(r.view == "CC" and r.laterality == "R" for r in rows)
        row = rows[0]
        assert row.patient and row.study_date.count("-") == 2 and (row.rows, row.columns) == (64, 64)
        assert row.photometric in ("MONOCHROME1", "MONOCHROME2") and row.bits_stored in (12, 14)
        assert row.size == row.path.stat().st_size and row.manufacturer
        assert {r.path.name.endswith(".gz") for r in index.query()} == {True, False}
        index.set_labels({r.path: int(r.view == "MLO") for r in index.query()})
        counts = index.assign_splits(seed=2)
        assert sum(counts.values()) == 40
        train = index.query(split="train", label=1)
        assert train and all(r.view == "MLO" for r in train)
        patients = [{r.patient for r in index.query(split=s)} for s in ("train", "val", "test")]
        assert not patients[0] & patients[1] and not patients[0] & patients[2]
        data = index.dataset(split="train", view="MLO")
        assert len(data) == len(train) and data[0][1] == 1
        info = data.sample_info(-1)
        assert info["split"] == "train" and info["view"] == "MLO" and info["file"].endswith((".dcm", ".gz"))
        assert data[-1][0].dtype == torch.int32
        shown = pickle.loads(pickle.dumps(index.dataset(split="train", pixels="display")))
        assert shown[0][0].dtype == torch.float32 and 0 <= float(shown[0][0].min()) <= 1
    assert sqlite3.connect(tmp_path / "index.sqlite").execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_incremental(tree, tmp_path):
    index = MammoIndex(tmp_path / "index.sqlite")
    index.build(tree, progress=False)
    files = _files(tree)
    for path in files[:3]:  # touch: same content, new mtime
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    files[3].unlink()
    again = index.build(tree, progress=False)
    assert (again.updated, again.removed, again.added, again.unchanged) == (3, 1, 0, 36)
    assert again.read == 3 and len(index) == 39
    assert index.build(tree, progress=False).read == 0
    index.close()


def test_bad_files_are_skipped_and_reported(tree, tmp_path):
    files = _files(tree)
    plain = [p for p in files if p.suffix == ".dcm"]
    plain[0].write_bytes(plain[0].read_bytes()[:50])  # truncated header
    plain[1].write_bytes(b"not a dicom file at all" * 10)  # garbled
    with MammoIndex(tmp_path / "index.sqlite") as index:
        report = index.build(tree, progress=False)
        assert set(report.failed) == {str(plain[0]), str(plain[1])}
        assert all(str(p) in message or p.name in message
                   for p, message in zip(plain[:2], [report.failed[str(p)] for p in plain[:2]], strict=True))
        assert len(index) == 38 and set(index.errors()) == set(report.failed)
        again = index.build(tree, progress=False)
        assert again.read == 2 and len(again.failed) == 2 and again.added == 0  # not re-read
        plain[0].unlink()
        assert len(index.build(tree, progress=False).failed) == 1


def test_interrupted_build_is_consistent_and_resumes(tree, tmp_path, monkeypatch):
    path = tmp_path / "index.sqlite"
    original = MammoIndex._write_batch
    calls = []

    class Interrupting(dict):
        def __getitem__(self, key):
            raise KeyboardInterrupt  # Ctrl-C in the middle of the third batch's transaction

    def failing(self, batch, *args):
        calls.append(len(batch))
        if len(calls) == 3:
            batch = [*batch[:4], (batch[4][0], Interrupting(), None), *batch[5:]]
        original(self, batch, *args)

    monkeypatch.setattr(MammoIndex, "_write_batch", failing)
    index = MammoIndex(path)
    with pytest.raises(KeyboardInterrupt):
        index.build(tree, batch_size=8, progress=False)
    index.close()
    monkeypatch.setattr(MammoIndex, "_write_batch", original)
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert connection.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 16  # 2 whole batches
    connection.close()
    with MammoIndex(path) as resumed:
        report = resumed.build(tree, batch_size=8, progress=False)
        assert (report.unchanged, report.added) == (16, 24)
        assert len(resumed) == 40


def test_parallel_build_matches_serial(tree, tmp_path, monkeypatch):
    monkeypatch.setattr(mammo_index, "_IN_PROCESS_BELOW", 1)
    with MammoIndex(tmp_path / "a.sqlite") as parallel, MammoIndex(tmp_path / "b.sqlite") as serial:
        parallel.build(tree, workers=2, progress=False)
        serial.build(tree, workers=0, progress=False)
        assert parallel.query() == serial.query()


def test_bad_database_and_missing_root(tree, tmp_path):
    from histomammo.errors import DataFormatError, MissingFileError

    garbled = tmp_path / "garbled.sqlite"
    garbled.write_bytes(b"this is not an SQLite file" * 100)
    with pytest.raises(DataFormatError, match="garbled.sqlite"):
        MammoIndex(garbled)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE images (path TEXT)").connection.commit()
    with pytest.raises(DataFormatError, match="other.sqlite"):
        MammoIndex(other)
    with MammoIndex(tmp_path / "index.sqlite") as index:
        index.build(tree, progress=False)
        with pytest.raises(MissingFileError, match="unmounted|not found"):
            index.build(tmp_path / "unmounted", progress=False)
        assert len(index) == 40  # untouched

"""The default suite's fuzzing: a few hundred seeded mutants per reader, each read in a
subprocess with a timeout; every outcome must be valid data or a library error naming the
file (``make fuzz`` runs 10,000 per format)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzzlib import FORMATS, OUTCOMES, Pool, Tally, classify, fuzz, mutants, table, write_seeds

MUTANTS = 200


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_mutant_is_valid_data_or_a_library_error(tmp_path: Path, fmt: str) -> None:
    tally = fuzz(fmt, MUTANTS, tmp_path, seed=1, workers=2, timeout=60.0)
    counts = tally.counts[fmt]
    assert sum(counts.values()) == MUTANTS
    failures = "\n".join(f"{outcome}: #{m.index} of {m.seed_file} ({m.description}): {detail}"
                         for m, outcome, detail in tally.failures[:20])
    assert not tally.failures, f"\n{table(tally)}\n{failures}"
    # Not a fuzzer that only produces unreadable files, nor one that changes nothing.
    assert counts["ok"] >= MUTANTS // 20 and counts["library"] >= MUTANTS // 4


@pytest.mark.parametrize("fmt", FORMATS)
def test_seeds_read_as_valid_data(tmp_path: Path, fmt: str) -> None:
    # rtplan.dcm holds no pixels; JPEG 2000 reads only with a decoder plugin installed.
    expected = {"rtplan.dcm": {"library"}, "MR_small_jp2klossless.dcm": {"ok", "library"}}
    for path in write_seeds(tmp_path, fmt):
        outcome, detail = classify(fmt, path)
        assert outcome in expected.get(path.name, {"ok"}), f"{path.name}: {outcome} {detail}"


def test_mutants_are_deterministic(tmp_path: Path) -> None:
    seeds = write_seeds(tmp_path / "seeds", "tiff")
    first = [(m.description, m.path.read_bytes()) for m in mutants("tiff", seeds, 20, tmp_path / "a")]
    again = [(m.description, m.path.read_bytes()) for m in mutants("tiff", seeds, 20, tmp_path / "b")]
    assert first == again
    assert len({data for _, data in first}) == 20  # and every one differs


def _hang(fmt: str, path: Path) -> tuple[str, str]:
    import time

    time.sleep(60)
    return "ok", ""


def _crash(fmt: str, path: Path) -> tuple[str, str]:
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)  # as a segfault would, without a core dump
    return "ok", ""


@pytest.mark.parametrize(("reader", "expected"), [(_hang, "hang"), (_crash, "crash")])
def test_pool_reports_hangs_and_crashes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: object, expected: str
) -> None:
    import fuzzlib

    monkeypatch.setattr(fuzzlib, "classify", reader)
    seeds = write_seeds(tmp_path / "seeds", "hdf5")
    tally = Tally()
    with Pool(workers=2, timeout=1.0) as pool:
        pool.run(mutants("hdf5", seeds, 3, tmp_path / "m"), tally)
    assert tally.counts["hdf5"][expected] == 3
    assert set(OUTCOMES) >= set(tally.counts["hdf5"])


def test_raw_exceptions_and_garbage_are_counted(tmp_path: Path, monkeypatch) -> None:
    import fuzzlib

    path = write_seeds(tmp_path, "hdf5")[0]
    monkeypatch.setitem(fuzzlib.CHECKS, "hdf5", lambda p: 1 / 0)
    assert classify("hdf5", path)[0] == "raw"
    monkeypatch.setitem(fuzzlib.CHECKS, "hdf5", lambda p: "shape (0,)")
    assert classify("hdf5", path) == ("garbage", "shape (0,)")


def test_zero_sized_chunks_do_not_crash_libhdf5(tmp_path: Path) -> None:
    # Found by `make fuzz` with seed 1: chunk sizes zeroed in the chunk B-tree of a shuffled,
    # fletcher32-checked dataset made libhdf5 segfault while reading; read in a worker.
    import numpy as np
    from fuzzlib import FORMATS, Mutant, mutate

    seeds = write_seeds(tmp_path / "seeds", "hdf5")
    seed_file = next(p for p in seeds if p.name == "chunked_shuffle.h5")
    data, description = mutate(seed_file.read_bytes(), "hdf5",
                               np.random.default_rng([1, FORMATS.index("hdf5"), 1996]))
    path = tmp_path / "m01996.h5"
    path.write_bytes(data)
    tally = Tally()
    with Pool(workers=1, timeout=60.0) as pool:
        pool.run(iter([Mutant("hdf5", 1996, seed_file.name, path, description)]), tally)
    assert tally.counts["hdf5"] == {"library": 1}, tally.failures

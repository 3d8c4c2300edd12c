"""Building a MammoIndex over 1000 small DICOMs: files/s, then an incremental rebuild.

Claim: :meth:`histomammo.datasets.MammoIndex.build` indexes at least 500 small files/s on 2
cores (headers read with ``stop_before_pixels`` in a process pool, one SQLite transaction per
batch), and a rebuild after touching 10 files reads only those 10. The peer is the obvious
loop: ``pydicom.dcmread`` of every whole file (pixel data included) and one ``INSERT`` +
``COMMIT`` per file into the same SQLite schema, in one process.

Run: ``python benchmarks/bench_mammo_index.py`` (under a minute on 2 cores; ``--n`` files).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom
from harness import Timing, print_ratio, report

from histomammo.datasets.mammo_index import MammoIndex
from histomammo.datasets.synthetic import write_dicom


def write_files(root: Path, n: int, seed: int) -> list[Path]:
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        folder = root / f"{i // 100:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 4096, (64, 52), dtype=np.uint16)
        paths.append(write_dicom(folder / f"{i:05d}.dcm", pixels, patient_id=f"{i // 4:06d}",
                                 laterality="LR"[i % 2], view=("CC", "MLO")[(i // 2) % 2]))
    return paths


def naive_index(paths: list[Path], database: Path) -> None:
    connection = sqlite3.connect(database)
    connection.execute("CREATE TABLE images (path TEXT PRIMARY KEY, patient TEXT, laterality TEXT, "
                       "view TEXT, study_date TEXT, rows INTEGER, columns INTEGER)")
    for path in paths:
        ds = pydicom.dcmread(path)
        connection.execute("INSERT INTO images VALUES (?, ?, ?, ?, ?, ?, ?)",
                           (str(path), ds.PatientID, ds.ImageLaterality, ds.ViewPosition,
                            ds.StudyDate, ds.Rows, ds.Columns))
        connection.commit()
    connection.close()


def timed(name: str, fn) -> Timing:
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    return Timing(name, seconds, seconds, 1, float("nan"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "archive"
        paths = write_files(root, args.n, seed=0)
        index = MammoIndex(Path(tmp) / "index.sqlite")
        first = timed("MammoIndex.build (cold index)", lambda: index.build(root, workers=args.workers, progress=False))
        for path in paths[:10]:
            stat = path.stat()
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
        result = {}
        second = timed("MammoIndex.build (10 touched)", lambda: result.setdefault("r", index.build(root, progress=False)))
        peer = timed("dcmread + INSERT/COMMIT per file", lambda: naive_index(paths, Path(tmp) / "naive.sqlite"))
        index.close()
    report(first, args.n, "files")
    report(second, args.n, "files")
    report(peer, args.n, "files")
    rebuild = result["r"]
    print(f"incremental rebuild: read {rebuild.read} files, {rebuild.unchanged} unchanged")
    print(f"MammoIndex build: {args.n / first.min_s:.0f} files/s (target >= 500)")
    print_ratio(first, peer, "naive loop")


if __name__ == "__main__":
    main()

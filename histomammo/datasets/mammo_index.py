"""A SQLite index of a mammogram archive's DICOM headers (thesis section 6.1.1).

The thesis kept an SQLite index of the diagnoses and metadata of its 557,642 images to
speed up analysis. [`MammoIndex`][histomammo.datasets.MammoIndex] is that index: one row per DICOM
file with its
header fields (read with ``stop_before_pixels``, never the pixel data), file size and
modification time, and optional label and split columns. Builds are incremental (only new
or changed files are read; deleted files leave the index), parallel (a process pool) and
transactional: each batch of files is committed at once, so an interrupted build leaves a
consistent database and the next build picks up where it stopped. Files that cannot be
read are recorded in an ``errors`` table and reported, and the build goes on. SQLite's own
journal makes every write atomic, so the database is not written through ``atomic_write``.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from histomammo.datasets._mammo_common import MammoRecord, RecordDataset
from histomammo.datasets._mammo_headers import INDEX_FIELDS, header_fields_or_error
from histomammo.errors import DataFormatError, MissingFileError

__all__ = ["BuildReport", "IndexRow", "MammoIndex"]

logger = logging.getLogger("histomammo.datasets.mammo_index")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    path TEXT PRIMARY KEY, patient TEXT, laterality TEXT, view TEXT, study_date TEXT,
    rows INTEGER, columns INTEGER, photometric TEXT, bits_stored INTEGER, manufacturer TEXT,
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, label INTEGER, split TEXT
);
CREATE TABLE IF NOT EXISTS errors (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, message TEXT
);
CREATE INDEX IF NOT EXISTS images_patient ON images (patient);
"""
_COLUMNS = ("path", *INDEX_FIELDS, "size", "mtime_ns", "label", "split")
_SUFFIXES = (".dcm", ".dcm.gz", ".dicom")
_IN_PROCESS_BELOW = 256  # fewer files than this: a pool costs more than it saves


@dataclass(frozen=True)
class IndexRow:
    """One indexed DICOM file: its header fields, file stat, label and split."""

    path: Path
    patient: str | None
    laterality: str | None
    view: str | None
    study_date: str | None
    rows: int | None
    columns: int | None
    photometric: str | None
    bits_stored: int | None
    manufacturer: str | None
    size: int
    mtime_ns: int
    label: int | None
    split: str | None


@dataclass
class BuildReport:
    """What one [`MammoIndex.build`][histomammo.datasets.mammo_index.MammoIndex.build] did."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # path -> error message
    seconds: float = 0.0

    @property
    def read(self) -> int:
        """Files whose headers were read in this build (successfully or not)."""
        return self.added + self.updated + len(self.failed)


class MammoIndex:
    """A SQLite index of DICOM headers, built incrementally over a folder tree.

    Parameters
    ----------
    path : str or Path
        The database file; created if absent.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from histomammo.datasets.synthetic import make_inbreast
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> root = make_inbreast(tmp / "inbreast", n_patients=2, shape=(64, 64))
    >>> with MammoIndex(tmp / "index.sqlite") as index:
    ...     report = index.build(root, progress=False)
    ...     again = index.build(root, progress=False)
    ...     rows = index.query(view="MLO", laterality="L")
    >>> report.added, again.unchanged, again.read, rows[0].view
    (8, 8, 0, 'MLO')
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._connection = sqlite3.connect(self.path)
        try:
            self._connection.execute("PRAGMA journal_mode=WAL")
            with self._connection:
                self._connection.executescript(_SCHEMA)
            columns = [row[1] for row in self._connection.execute("PRAGMA table_info(images)")]
        except sqlite3.DatabaseError as err:
            self._connection.close()
            raise DataFormatError(f"{self.path}: not a usable SQLite database ({err}); expected a "
                                  "MammoIndex file or a new path") from err
        if tuple(columns) != _COLUMNS:
            self._connection.close()
            raise DataFormatError(f"{self.path}: its images table has columns {columns}; expected "
                                  f"a MammoIndex table with {list(_COLUMNS)}")

    def __enter__(self) -> MammoIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the database connection."""
        self._connection.close()

    def __len__(self) -> int:
        return int(self._connection.execute("SELECT COUNT(*) FROM images").fetchone()[0])

    def build(
        self,
        root: str | os.PathLike[str],
        *,
        workers: int | None = None,
        batch_size: int = 512,
        progress: bool = True,
    ) -> BuildReport:
        """Index every ``*.dcm`` / ``*.dcm.gz`` / ``*.dicom`` under ``root``.

        Only files that are new or whose size or modification time changed are read;
        files gone from disk leave the index. Each batch of ``batch_size`` files is one
        transaction. A file that cannot be read is recorded (``failed`` in the report and
        the ``errors`` table) and skipped; it is read again once it changes.

        Parameters
        ----------
        root : str or os.PathLike
            Folder tree to index.
        workers : int, optional
            Header-reading processes; default ``min(4, os.cpu_count())``; 0 reads in this
            process (also used for fewer than 256 files).
        batch_size : int
            Files per transaction.
        progress : bool
            Show a tqdm progress bar.

        Returns
        -------
        BuildReport

        Raises
        ------
        MissingFileError
            ``root`` is not a folder (the index is left as it was).
        """
        start = time.perf_counter()
        report = BuildReport()
        if not Path(root).is_dir():  # an unmounted archive must not empty the index
            raise MissingFileError(f"{root}: folder not found; expected the DICOM tree to index")
        on_disk = dict(_scan(Path(root)))
        todo = self._stale(on_disk, report)
        known = {row[0] for row in self._connection.execute("SELECT path FROM images")}
        for batch in _read_in_batches(sorted(todo), workers, batch_size, progress):
            self._write_batch(batch, on_disk, known, report)
        report.seconds = time.perf_counter() - start
        logger.info("indexed %s: %d added, %d updated, %d removed, %d unchanged, %d failed",
                    root, report.added, report.updated, report.removed, report.unchanged,
                    len(report.failed))
        return report

    def _stale(self, on_disk: dict[str, tuple[int, int]], report: BuildReport) -> list[str]:
        """Remove vanished files; return the paths that need reading."""
        indexed = {path: (size, mtime) for path, size, mtime in
                   self._connection.execute("SELECT path, size, mtime_ns FROM images")}
        failed = {path: (size, mtime) for path, size, mtime in
                  self._connection.execute("SELECT path, size, mtime_ns FROM errors")}
        gone = [p for p in indexed.keys() | failed.keys() if p not in on_disk]
        with self._connection:
            self._connection.executemany("DELETE FROM images WHERE path = ?", [(p,) for p in gone])
            self._connection.executemany("DELETE FROM errors WHERE path = ?", [(p,) for p in gone])
        report.removed = sum(p in indexed for p in gone)
        todo = []
        for path, stat in on_disk.items():
            if indexed.get(path) == stat:
                report.unchanged += 1
            elif failed.get(path) == stat:
                report.failed[path] = "unchanged since it last failed"
            else:
                todo.append(path)
        return todo

    def _write_batch(
        self, batch: list[tuple[str, dict[str, Any] | None, str | None]],
        on_disk: dict[str, tuple[int, int]], known: set[str], report: BuildReport,
    ) -> None:
        with self._connection:  # one transaction: the whole batch or nothing
            for path, fields, error in batch:
                size, mtime = on_disk[path]
                if fields is None:
                    self._connection.execute("DELETE FROM images WHERE path = ?", (path,))
                    self._connection.execute("INSERT OR REPLACE INTO errors VALUES (?, ?, ?, ?)",
                                             (path, size, mtime, error))
                    report.failed[path] = str(error)
                    continue
                values = [path, *(fields[name] for name in INDEX_FIELDS), size, mtime]
                self._connection.execute(
                    f"INSERT INTO images ({', '.join(_COLUMNS[:-2])}) VALUES "
                    f"({', '.join('?' * len(values))}) ON CONFLICT(path) DO UPDATE SET "
                    + ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS[1:-2]), values)
                self._connection.execute("DELETE FROM errors WHERE path = ?", (path,))
                if path in known:
                    report.updated += 1
                else:
                    report.added += 1

    def query(
        self,
        *,
        split: str | None = None,
        view: str | None = None,
        laterality: str | None = None,
        label: int | None = None,
        patient: str | None = None,
        labelled: bool = False,
    ) -> list[IndexRow]:
        """Rows matching every filter given, ordered by path.

        ``labelled=True`` keeps only rows with a label.
        """
        filters = {"split": split, "view": view, "laterality": laterality, "label": label,
                   "patient": patient}
        where = [f"{name} = ?" for name, value in filters.items() if value is not None]
        if labelled:
            where.append("label IS NOT NULL")
        sql = f"SELECT {', '.join(_COLUMNS)} FROM images"
        sql += (" WHERE " + " AND ".join(where)) if where else ""
        values = [value for value in filters.values() if value is not None]
        return [IndexRow(Path(row[0]), *row[1:]) for row in
                self._connection.execute(sql + " ORDER BY path", values)]

    def set_labels(self, labels: Mapping[str | os.PathLike[str], int | None]) -> None:
        """Store labels by file path (one transaction)."""
        with self._connection:
            self._connection.executemany("UPDATE images SET label = ? WHERE path = ?",
                                         [(None if v is None else int(v), os.path.abspath(p))
                                          for p, v in labels.items()])

    def assign_splits(
        self, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0
    ) -> dict[str, int]:
        """Split by patient ([`patient_split`][histomammo.datasets.patient_split]); counts per
        split.

        The thesis states only that 80% of the images train the networks; 80/10/10 of the
        patients is this library's choice.
        """
        from histomammo.datasets._mammo_common import SPLITS, patient_split

        rows = self._connection.execute("SELECT path, patient FROM images").fetchall()
        patients = [patient or path for path, patient in rows]
        counts: dict[str, int] = {}
        with self._connection:
            for name in SPLITS:
                keep = patient_split(patients, name, fractions=fractions, seed=seed)
                chosen = [(name, path) for (path, _), k in zip(rows, keep, strict=True) if k]
                self._connection.executemany("UPDATE images SET split = ? WHERE path = ?", chosen)
                counts[name] = len(chosen)
        return counts

    def dataset(
        self, *, transforms: Callable[[Any, Any], Any] | None = None,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
        pixels: str = "raw", **filters: Any
    ) -> RecordDataset:
        """A Dataset of the labelled rows matching ``filters`` (those of
        [`query`][histomammo.datasets.mammo_index.MammoIndex.query]).

        ``transforms``, ``transform``, ``target_transform`` and ``pixels`` are those of
        every mammography dataset (``RecordDataset``);
        the ``split`` filter, when given, is what ``sample_info`` reports.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from histomammo.datasets.synthetic import make_inbreast
        >>> tmp = pathlib.Path(tempfile.mkdtemp())
        >>> root = make_inbreast(tmp / "inbreast", n_patients=2, shape=(64, 64))
        >>> index = MammoIndex(tmp / "index.sqlite"); _ = index.build(root, progress=False)
        >>> index.set_labels({row.path: int(row.view == "MLO") for row in index.query()})
        >>> _ = index.assign_splits(seed=0)
        >>> data = index.dataset(split="train")
        >>> image, target = data[0]
        >>> tuple(image.shape), len(data) + len(index.dataset(split="val")) + len(index.dataset(split="test"))
        ((1, 64, 64), 8)
        >>> index.close()
        """
        records = [
            MammoRecord(row.path, row.patient or "", row.laterality or "", row.view or "",
                        int(row.label), {"study_date": row.study_date})
            for row in self.query(labelled=True, **filters) if row.label is not None
        ]
        return RecordDataset(records, filters.get("split"), transforms=transforms,
                             transform=transform, target_transform=target_transform,
                             pixels=pixels)

    def errors(self) -> dict[str, str]:
        """Files that could not be read: ``{path: message}``."""
        return dict(self._connection.execute("SELECT path, message FROM errors"))


def _scan(root: Path) -> Iterator[tuple[str, tuple[int, int]]]:
    """``(absolute path, (size, mtime_ns))`` of every DICOM-named file under ``root``."""
    for directory, _, names in os.walk(root):
        for name in names:
            if name.lower().endswith(_SUFFIXES):
                path = os.path.abspath(os.path.join(directory, name))
                stat = os.stat(path)
                yield path, (stat.st_size, stat.st_mtime_ns)


def _read_in_batches(
    paths: Sequence[str], workers: int | None, batch_size: int, progress: bool
) -> Iterator[list[tuple[str, dict[str, Any] | None, str | None]]]:
    """Header fields of ``paths`` in order, ``batch_size`` at a time.

    With a pool, all files are handed out at once (in chunks) and read while earlier
    batches are being written, so the workers never wait for the database.
    """
    from tqdm.auto import tqdm

    workers = min(4, os.cpu_count() or 1) if workers is None else workers
    bar = tqdm(total=len(paths), desc="indexing DICOM headers", unit="file",
               disable=not progress or not paths)
    pool = ProcessPoolExecutor(workers) if workers > 0 and len(paths) >= _IN_PROCESS_BELOW else None
    try:
        if pool is None:
            results: Iterator[Any] = map(header_fields_or_error, paths)
        else:
            chunk = max(1, min(64, len(paths) // (8 * workers)))
            results = pool.map(header_fields_or_error, paths, chunksize=chunk)
        batch: list[tuple[str, dict[str, Any] | None, str | None]] = []
        for result in results:
            batch.append(result)
            if len(batch) == batch_size:
                bar.update(len(batch))
                yield batch
                batch = []
        if batch:
            bar.update(len(batch))
            yield batch
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        bar.close()

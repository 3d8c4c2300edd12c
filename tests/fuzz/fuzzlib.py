"""A seeded fuzzer for histomammo's readers: seed files, a mutator, a subprocess pool.

Seed files are written by :func:`write_seeds` (and pydicom's bundled test files are copied);
:func:`mutants` derives mutants deterministically from ``(seed, index)``: byte flips,
truncations, zeroed ranges, inserted junk, header-field edits (DICOM), tag edits (TIFF) and
structure damage (HDF5 signatures, superblock). :class:`Pool` reads each mutant in a worker
process with a per-call timeout; :func:`classify` runs inside the worker and returns one of

- ``ok``: valid data (shaped as declared, of the declared dtype, finite where computed float),
- ``library``: a histomammo error whose message names the file,
- ``raw``: any other exception (a third-party one passed on, or a library error not naming
  the file),
- ``garbage``: data returned that is not valid,

and the pool adds ``hang`` (no answer within the timeout; the worker is killed) and
``crash`` (the worker died: segfault, SIGBUS, abort).
"""

from __future__ import annotations

import gzip
import io
import logging
import multiprocessing
import shutil
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path

import numpy as np

FORMATS = ("dicom", "tiff", "hdf5")
OUTCOMES = ("ok", "library", "raw", "hang", "crash", "garbage")
H5_KEY = "data/x"  # every HDF5 seed holds its array under this key
_BUNDLED_DICOM = (
    "CT_small.dcm", "MR_small.dcm", "MR_small_RLE.dcm", "MR_small_bigendian.dcm",
    "MR_small_implicit.dcm", "SC_rgb_rle_2frame.dcm", "MR_small_jp2klossless.dcm",
    "rtplan.dcm",  # no Pixel Data
)


# ---------------------------------------------------------------------------------------------
# Seeds
# ---------------------------------------------------------------------------------------------


def _dicom_seeds(folder: Path) -> None:
    from pydicom.data import get_testdata_file

    from histomammo.datasets.synthetic import synthetic_mammogram, write_dicom

    rng = np.random.default_rng(0)
    image = synthetic_mammogram((40, 32), rng, bits_stored=12)
    write_dicom(folder / "mono2_window.dcm", image)
    write_dicom(folder / "mono1.dcm", image, photometric="MONOCHROME1", window=None)
    write_dicom(folder / "gzipped.dcm.gz", image, gzip=True)
    for name in _BUNDLED_DICOM:
        found = get_testdata_file(name, download=False)
        if found is not None:
            shutil.copy(found, folder / name)


def _tiff_seeds(folder: Path) -> None:
    import tifffile

    rgb = np.arange(48 * 40 * 3, dtype=np.uint32).reshape(48, 40, 3).astype(np.uint8)
    gray = np.arange(48 * 40, dtype=np.uint16).reshape(48, 40)
    tifffile.imwrite(folder / "strips.tif", gray, rowsperstrip=7)
    tifffile.imwrite(folder / "tiles_zlib.tif", rgb, tile=(16, 16), photometric="rgb",
                     compression="zlib")
    tifffile.imwrite(folder / "planar.tif", rgb, tile=(16, 16), photometric="rgb",
                     planarconfig="separate")
    tifffile.imwrite(folder / "lzma.tif", gray, tile=(16, 16), compression="lzma")
    tifffile.imwrite(folder / "packbits.tif", rgb, photometric="rgb", compression="packbits")
    tifffile.imwrite(folder / "float.tif", gray.astype(np.float32), rowsperstrip=16,
                     predictor=True, compression="zlib")
    tifffile.imwrite(folder / "bigtiff.tif", gray, tile=(16, 16), bigtiff=True)
    with tifffile.TiffWriter(folder / "pyramid.tif") as tif:
        tif.write(rgb, tile=(16, 16), subifds=1, photometric="rgb", compression="zlib")
        tif.write(rgb[::2, ::2], tile=(16, 16), subfiletype=1, photometric="rgb")


def _hdf5_seeds(folder: Path) -> None:
    import h5py

    data = np.arange(12 * 8 * 6, dtype=np.uint8).reshape(12, 8, 6)
    layouts = {
        "contiguous.h5": ({}, {}),
        "chunked_gzip.h5": ({"chunks": (2, 8, 6), "compression": "gzip"}, {}),
        "chunked_shuffle.h5": ({"chunks": (3, 4, 6), "shuffle": True, "fletcher32": True}, {}),
        "latest.h5": ({"chunks": (4, 8, 6), "compression": "gzip"}, {"libver": "latest"}),
        "int16.h5": ({"dtype": np.int16}, {}),
    }
    for name, (layout, options) in layouts.items():
        with h5py.File(folder / name, "w", **options) as file:
            file.create_dataset(H5_KEY, data=data.astype(layout.pop("dtype", data.dtype)),
                                **layout)
            file.create_dataset("data/labels", data=np.arange(12))


SEED_WRITERS: dict[str, Callable[[Path], None]] = {
    "dicom": _dicom_seeds, "tiff": _tiff_seeds, "hdf5": _hdf5_seeds,
}


def write_seeds(folder: Path, fmt: str) -> list[Path]:
    """Write the seed files of ``fmt`` into ``folder``; return them sorted."""
    folder.mkdir(parents=True, exist_ok=True)
    SEED_WRITERS[fmt](folder)
    return sorted(p for p in folder.iterdir() if p.is_file())


# ---------------------------------------------------------------------------------------------
# Mutator
# ---------------------------------------------------------------------------------------------

_INTS = (0, 1, 2, 3, 7, 8, 15, 16, 17, 32, 64, 255, 256, 4095, 65535, 65536, 2**31 - 1,
         2**32 - 1, -1)
_NUMBERS = ("NaN", "inf", "-inf", "1e308", "-1e308", "0", "-1", "1e-308", "abc", "", "1\\2")
_DICOM_INT_FIELDS = ("Rows", "Columns", "NumberOfFrames", "BitsAllocated", "BitsStored",
                     "HighBit", "PixelRepresentation", "SamplesPerPixel", "PlanarConfiguration")
_DICOM_TEXT_FIELDS = ("RescaleSlope", "RescaleIntercept", "WindowCenter", "WindowWidth",
                      "PhotometricInterpretation", "VOILUTFunction")
_TIFF_TAGS = (256, 257, 258, 259, 262, 273, 277, 278, 279, 284, 317, 322, 323, 324, 325, 330,
              338, 339)
_H5_SIGNATURES = (b"\x89HDF\r\n\x1a\n", b"OHDR", b"OCHK", b"TREE", b"HEAP", b"SNOD", b"GCOL",
                  b"FRHP", b"FSHD", b"BTHD", b"BTIN", b"BTLF", b"FHDB", b"FHIB", b"FSSE")


def _flip(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    out = bytearray(data)
    positions = rng.integers(0, len(out), rng.integers(1, 9))
    for pos in positions:
        out[pos] ^= int(rng.integers(1, 256))
    return bytes(out), f"flip {len(positions)} bytes"


def _truncate(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    cut = int(rng.integers(0, len(data)))
    return data[:cut], f"truncate at {cut}"


def _zero(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    start = int(rng.integers(0, len(data)))
    stop = min(len(data), start + int(rng.integers(1, 4097)))
    return data[:start] + bytes(stop - start) + data[stop:], f"zero {start}:{stop}"


def _insert(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    at = int(rng.integers(0, len(data) + 1))
    junk = rng.integers(0, 256, int(rng.integers(1, 257)), dtype=np.uint8).tobytes()
    if rng.random() < 0.2:  # a long tail of zeros, or junk appended
        at, junk = len(data), bytes(int(rng.integers(1, 1 << 20)))
    return data[:at] + junk + data[at:], f"insert {len(junk)} bytes at {at}"


def _dicom_field(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    import pydicom

    raw = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    ds = pydicom.dcmread(io.BytesIO(raw), force=True)
    if rng.random() < 0.6:
        keyword = str(rng.choice(_DICOM_INT_FIELDS))
        value: object = int(rng.choice(_INTS))
        if keyword == "NumberOfFrames":
            value = str(value)
    else:
        keyword = str(rng.choice(_DICOM_TEXT_FIELDS))
        value = str(rng.choice(_NUMBERS + ("MONOCHROME1", "RGB", "SIGMOID", "LINEAR_EXACT")))
    if rng.random() < 0.1:
        keyword, value = "PixelData", ds.PixelData[: int(rng.integers(0, len(ds.PixelData)))]
    setattr(ds, keyword, value)
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=False)
    return out.getvalue(), f"set {keyword} = {str(value)[:20]!r}"


def _tiff_entries(data: bytes) -> list[tuple[int, int, int]]:
    """``(entry offset, count size, tag code)`` of every tag of every page tifffile parses."""
    import tifffile

    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        size = tif.tiff.offsetsize
        return [(tag.offset, size, tag.code) for page in tif.pages for tag in page.tags.values()]


def _tiff_tag(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    entries = [e for e in _tiff_entries(data) if e[2] in _TIFF_TAGS] or _tiff_entries(data)
    offset, size, code = entries[int(rng.integers(len(entries)))]
    out = bytearray(data)
    part = str(rng.choice(["value", "value", "count", "type"]))
    if part == "type":
        at, width, value = offset + 2, 2, int(rng.integers(0, 19))
    else:
        at, width = offset + (4 if part == "count" else 4 + size), size
        value = int(rng.choice(_INTS)) % (1 << (8 * width))
        if part == "value" and rng.random() < 0.5 and width == 4:
            at, width = at, 2  # SHORT values sit in the first two bytes
            value %= 1 << 16
    out[at : at + width] = value.to_bytes(width, "little")
    return bytes(out), f"tag {code} {part} = {value}"


def _hdf5_damage(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    found = [m for sig in _H5_SIGNATURES for m in _find_all(data, sig)]
    at = int(rng.choice(found)) if found and rng.random() < 0.8 else int(rng.integers(0, 96))
    at += int(rng.integers(0, 48))
    out = bytearray(data)
    how = str(rng.choice(["flip", "zero", "ones", "address"]))
    span = int(rng.integers(1, 9))
    for pos in range(at, min(at + span, len(out))):
        out[pos] = {"flip": out[pos] ^ int(rng.integers(1, 256)), "zero": 0, "ones": 0xFF,
                    "address": int(rng.integers(0, 256))}[how]
    return bytes(out), f"hdf5 {how} {span} bytes at {at}"


def _find_all(data: bytes, needle: bytes) -> Iterator[int]:
    start = data.find(needle)
    while start >= 0:
        yield start
        start = data.find(needle, start + 1)


_STRUCTURED = {"dicom": _dicom_field, "tiff": _tiff_tag, "hdf5": _hdf5_damage}
_GENERIC = (_flip, _truncate, _zero, _insert)


def mutate(data: bytes, fmt: str, rng: np.random.Generator) -> tuple[bytes, str]:
    """One to three mutations of ``data``; the structured one (if drawn) comes first."""
    steps = []
    if rng.random() < 0.5:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # pydicom warns of the invalid values it writes
                data, what = _STRUCTURED[fmt](data, rng)
            steps.append(what)
        except Exception as err:  # the seed did not take this edit; mutate its bytes instead
            steps.append(f"({type(err).__name__} in structured edit)")
    for _ in range(int(rng.integers(0 if steps else 1, 3))):
        if len(data) == 0:
            break
        data, what = _GENERIC[int(rng.integers(len(_GENERIC)))](data, rng)
        steps.append(what)
    return data, "; ".join(steps)


@dataclass(frozen=True)
class Mutant:
    fmt: str
    index: int
    seed_file: str
    path: Path
    description: str


def mutants(fmt: str, seeds: list[Path], count: int, folder: Path, seed: int = 0
            ) -> Iterator[Mutant]:
    """``count`` mutants of ``seeds``, written into ``folder``; the same for the same seed."""
    folder.mkdir(parents=True, exist_ok=True)
    originals = [p.read_bytes() for p in seeds]
    for index in range(count):
        rng = np.random.default_rng([seed, FORMATS.index(fmt), index])
        which = index % len(seeds)
        data, description = mutate(originals[which], fmt, rng)
        path = folder / f"m{index:05d}{''.join(seeds[which].suffixes)}"
        path.write_bytes(data)
        yield Mutant(fmt, index, seeds[which].name, path, description)


# ---------------------------------------------------------------------------------------------
# Reading one mutant (runs in a worker process)
# ---------------------------------------------------------------------------------------------


def _check_dicom(path: Path) -> str | None:
    from histomammo.io.dicom import read_dicom

    raw = path.name.startswith("SC_rgb") or "rgb" in path.name
    image = read_dicom(path, raw=raw)
    pixels = image.pixels
    if pixels.ndim not in (2, 3, 4) or 0 in pixels.shape:
        return f"pixels of shape {pixels.shape}"
    if not raw and (pixels.dtype != np.float32 or not np.isfinite(pixels).all()
                    or pixels.min() < 0 or pixels.max() > 1):
        return f"display values {pixels.dtype} in [{pixels.min()}, {pixels.max()}]"
    return _dicom_shape_disagrees(path, pixels.shape)


def _dicom_shape_disagrees(path: Path, shape: tuple[int, ...]) -> str | None:
    """The returned shape against the header as pydicom parses it independently."""
    import pydicom

    try:
        data = path.read_bytes()
        data = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
        header = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, force=True)
        frames, samples = int(header.get("NumberOfFrames") or 1), int(header.SamplesPerPixel)
        declared = ((frames,) if frames > 1 else ()) + (int(header.Rows), int(header.Columns)) + (
            (samples,) if samples > 1 else ())
    except Exception:  # noqa: BLE001 -- a header pydicom alone cannot parse: shape unchecked
        return None
    return None if shape == declared else f"shape {shape} but the header declares {declared}"


def _check_tiff(path: Path) -> str | None:
    from histomammo.io.tiff import TiffImage

    with TiffImage(path) as image:
        for level in image.levels:
            if 0 in level.shape or len(level.shape) not in (2, 3):
                return f"level {level.index} of shape {level.shape}"
            height, width = level.shape[:2]
            boxes = [(0, 0, min(height, 64), min(width, 64)),
                     (height - 1, width - 1, 2, 2)]
            for top, left, h, w in boxes:
                region = image.read_region(top, left, h, w, level.index, bounds="pad")
                if region.shape != (h, w) + level.shape[2:] or region.dtype != image.dtype:
                    return f"region {region.shape} {region.dtype} from level {level.shape}"
    return None


def _check_hdf5(path: Path) -> str | None:
    from histomammo.io.hdf5 import H5Array

    with H5Array(path, H5_KEY) as array:
        for key in (Ellipsis, [len(array) - 1, 0, 0], slice(None, None, -2)):
            got = array[key]
            expected = np.empty(array.shape, dtype=np.bool_)[key].shape
            if got.shape != expected or got.dtype != array.dtype:
                return f"{got.shape} {got.dtype} for key {key!r}; expected {expected}"
    return None


CHECKS: dict[str, Callable[[Path], str | None]] = {
    "dicom": _check_dicom, "tiff": _check_tiff, "hdf5": _check_hdf5,
}


def classify(fmt: str, path: Path) -> tuple[str, str]:
    """Read ``path`` with the ``fmt`` reader: ``(outcome, detail)``."""
    from histomammo.errors import HistomammoError

    try:
        problem = CHECKS[fmt](path)
    except HistomammoError as err:
        if path.name in str(err):
            return "library", type(err).__name__
        return "raw", f"{type(err).__name__} not naming the file: {err}"
    except Exception as err:  # noqa: BLE001 -- what the fuzzer looks for
        return "raw", f"{type(err).__name__}: {str(err)[:200]}"
    return ("garbage", problem) if problem else ("ok", "")


# ---------------------------------------------------------------------------------------------
# The pool
# ---------------------------------------------------------------------------------------------


def _mapped_bytes() -> int:
    """This process's virtual memory size (VmSize), 0 where /proc is not available."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _worker(connection: multiprocessing.connection.Connection, memory_limit: int) -> None:
    import resource

    # On top of what the (forked) worker has mapped already: a fat parent, such as pytest
    # with torch imported, must not leave the readers less than ``memory_limit``.
    mapped = _mapped_bytes()
    resource.setrlimit(resource.RLIMIT_AS, (mapped + memory_limit, mapped + memory_limit))
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    while True:
        job = connection.recv()
        if job is None:
            return
        connection.send(classify(*job))


@dataclass
class _Slot:
    process: multiprocessing.Process
    connection: multiprocessing.connection.Connection
    job: Mutant | None = None
    started: float = 0.0


@dataclass
class Tally:
    """Outcome counts per format, and the failing mutants with their details."""

    counts: dict[str, Counter] = field(default_factory=dict)
    failures: list[tuple[Mutant, str, str]] = field(default_factory=list)

    def add(self, mutant: Mutant, outcome: str, detail: str) -> None:
        self.counts.setdefault(mutant.fmt, Counter())[outcome] += 1
        if outcome not in ("ok", "library"):
            self.failures.append((mutant, outcome, detail))


class Pool:
    """``workers`` forked processes, each reading one mutant at a time with a timeout."""

    def __init__(self, workers: int = 2, timeout: float = 20.0, memory_limit: int = 2 << 30):
        self.timeout, self.memory_limit = timeout, memory_limit
        self._context = multiprocessing.get_context("fork")
        self._slots = [self._spawn() for _ in range(workers)]

    def _spawn(self) -> _Slot:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_worker, args=(child, self.memory_limit),
                                        daemon=True)
        process.start()
        child.close()
        return _Slot(process, parent)

    def run(self, jobs: Iterator[Mutant], tally: Tally) -> Tally:
        pending = iter(jobs)
        exhausted = False
        while True:
            for slot in self._slots:
                if slot.job is None and not exhausted:
                    slot.job = next(pending, None)
                    exhausted = slot.job is None
                    if slot.job is not None:
                        slot.connection.send((slot.job.fmt, slot.job.path))
                        slot.started = time.monotonic()
            busy = [s for s in self._slots if s.job is not None]
            if not busy:
                return tally
            ready = wait([s.connection for s in busy] + [s.process.sentinel for s in busy],
                         timeout=0.5)
            for i, slot in enumerate(self._slots):
                if slot.job is not None:
                    self._collect(i, slot, ready, tally)

    def _collect(self, i: int, slot: _Slot, ready: list, tally: Tally) -> None:
        job = slot.job
        if slot.connection in ready:
            try:
                outcome, detail = slot.connection.recv()
            except EOFError:
                outcome, detail = "crash", f"worker exit code {slot.process.exitcode}"
        elif slot.process.sentinel in ready or not slot.process.is_alive():
            slot.process.join(1)
            outcome, detail = "crash", f"worker exit code {slot.process.exitcode}"
        elif time.monotonic() - slot.started > self.timeout:
            outcome, detail = "hang", f"no result within {self.timeout} s"
        else:
            return
        tally.add(job, outcome, detail)
        if outcome in ("ok", "library"):
            job.path.unlink(missing_ok=True)  # the failures stay, to be looked at
        slot.job = None
        if outcome in ("hang", "crash"):
            slot.process.kill()
            slot.process.join()
            self._slots[i] = self._spawn()

    def close(self) -> None:
        for slot in self._slots:
            if slot.process.is_alive():
                slot.connection.send(None)
                slot.process.join(5)
                if slot.process.is_alive():
                    slot.process.kill()
                    slot.process.join()

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def fuzz(fmt: str, count: int, folder: Path, *, seed: int = 0, workers: int = 2,
         timeout: float = 20.0, tally: Tally | None = None) -> Tally:
    """Write the seeds of ``fmt``, derive ``count`` mutants and read each one in the pool."""
    seeds = write_seeds(folder / fmt / "seeds", fmt)
    tally = tally if tally is not None else Tally()
    tally.counts.setdefault(fmt, Counter())
    with Pool(workers, timeout) as pool:
        pool.run(mutants(fmt, seeds, count, folder / fmt / "mutants", seed), tally)
    return tally


_READERS = {"dicom": "read_dicom", "tiff": "TiffImage / read_region", "hdf5": "H5Array"}


def table(tally: Tally) -> str:
    """The tally as a Markdown table: reader, mutants, raw exceptions, hangs, crashes, garbage."""
    lines = ["| reader | mutants | valid data | library errors | raw exceptions | hangs | "
             "crashes | garbage |", "|---|---|---|---|---|---|---|---|"]
    for fmt, counts in tally.counts.items():
        total = sum(counts.values())
        lines.append(f"| `{_READERS[fmt]}` | {total} | {counts['ok']} | {counts['library']} | "
                     f"{counts['raw']} | {counts['hang']} | {counts['crash']} | "
                     f"{counts['garbage']} |")
    return "\n".join(lines)

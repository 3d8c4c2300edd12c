"""Samples/s of a shuffled DataLoader over PatchCamelyon-like HDF5 files.

Claim: :class:`histomammo.io.H5Array` (file opened once per process, contiguous data
memory-mapped, a batch of 64 rows fetched in one ``__getitems__`` call) reads at least 10x
as many samples/s as ``torchvision.datasets.PCAM``, which opens both h5 files for every
item, and at least 70% of the samples/s of the same arrays held in memory.

The files are written in PCAM's own layout (``pcam/camelyonpatch_level_2_split_train_x.h5``
with dataset ``x`` of shape (N, 96, 96, 3) uint8, uncompressed, contiguous, and ``..._y.h5``
with ``y`` of shape (N, 1, 1, 1)), so the peer is the real ``torchvision.datasets.PCAM``
class, pointed at them with ``download=False``. Its ``transform`` is ``numpy.asarray``, so
every loader yields the same batches (checked): uint8 images (64, 96, 96, 3) and int64
labels (64,). ``open per item, no PIL`` is PCAM's h5py access pattern without its PIL round
trip. The in-memory contender uses the same ``Dataset`` class as H5Array, batch path
included. The files are in the page cache for every contender (this measures the reader,
not the disk); peers read ``--peer-samples`` random samples per pass, the others N, and
ratios are of samples/s. ``no reads`` yields the same batches without reading anything: the
DataLoader's own ceiling (collation and, with workers, the transfer of each batch).

Run: ``python benchmarks/bench_hdf5.py`` (under a minute on 2 cores; ``--n`` to change N).
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from pathlib import Path

import h5py
import numpy as np
import torch
from harness import Timing, max_rss_mb, measure, print_ratio, report
from torch.utils.data import DataLoader, Dataset, RandomSampler
from torchvision.datasets import PCAM

from histomammo.io import H5Array

BATCH = 64
PATCH = (96, 96, 3)


class PatchPairs(Dataset):
    """``(image (96, 96, 3) uint8, label int)`` from two row-indexable arrays of the same length.

    ``__getitems__`` reads a whole batch with one index per array, which the DataLoader
    calls instead of ``__getitem__`` once per item. Used unchanged for H5Array and numpy.
    """

    def __init__(self, images, labels) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        return self.images[index], int(self.labels[index, 0, 0, 0])

    def __getitems__(self, indices: list[int]) -> list[tuple[np.ndarray, int]]:
        images = self.images[indices]
        labels = self.labels[indices, 0, 0, 0].tolist()
        return list(zip(images, labels, strict=True))


class PatchPairsPerItem(PatchPairs):
    """The same, without the batch path: the DataLoader calls ``__getitem__`` per item."""

    __getitems__ = None


class NoReads(Dataset):
    """The same batch shapes with nothing read: the DataLoader's own cost (collate, IPC)."""

    def __init__(self, length: int) -> None:
        self.length, self.image = length, np.zeros(PATCH, dtype=np.uint8)

    def __len__(self) -> int:
        return self.length

    def __getitems__(self, indices: list[int]) -> list[tuple[np.ndarray, int]]:
        return [(self.image, 0)] * len(indices)


class OpenPerItem(Dataset):
    """PCAM's h5py access pattern (both files opened per item) without its PIL round trip."""

    def __init__(self, images_path: Path, labels_path: Path, length: int) -> None:
        self.images_path, self.labels_path, self.length = images_path, labels_path, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        with h5py.File(self.images_path) as images:
            image = images["x"][index]
        with h5py.File(self.labels_path) as labels:
            label = int(labels["y"][index, 0, 0, 0])
        return image, label


def write_pcam_files(root: Path, n: int, seed: int = 0) -> tuple[Path, Path]:
    """Write random PCAM-layout train files under ``root/pcam``; return (x path, y path)."""
    folder = root / "pcam"
    folder.mkdir(parents=True)
    images_path = folder / "camelyonpatch_level_2_split_train_x.h5"
    labels_path = folder / "camelyonpatch_level_2_split_train_y.h5"
    rng = np.random.default_rng(seed)
    with h5py.File(images_path, "w") as file:
        images = file.create_dataset("x", shape=(n, *PATCH), dtype=np.uint8)
        for start in range(0, n, 2048):
            stop = min(start + 2048, n)
            images[start:stop] = rng.integers(0, 256, (stop - start, *PATCH), dtype=np.uint8)
    with h5py.File(labels_path, "w") as file:
        file["y"] = rng.integers(0, 2, (n, 1, 1, 1), dtype=np.uint8)
    return images_path, labels_path


def make_loader(dataset: Dataset, workers: int, samples: int) -> DataLoader:
    """Shuffled loader drawing ``samples`` distinct random rows of the whole file per pass."""
    sampler = RandomSampler(
        dataset, num_samples=samples, generator=torch.Generator().manual_seed(0)
    )
    return DataLoader(
        dataset,
        batch_size=BATCH,
        sampler=sampler,
        num_workers=workers,
        persistent_workers=workers > 0,
    )


def time_loader(name: str, loader: DataLoader, repeats: int) -> Timing:
    """Time full passes over ``loader`` (its workers start in the untimed warm-up pass)."""

    def one_pass() -> None:
        for _images, _labels in loader:
            pass

    timing = measure(name, one_pass, warmup=1, repeats=repeats)
    report(timing, items=len(loader.sampler), unit="samples")
    return timing


def check_same_batches(loaders: list[DataLoader]) -> None:
    """Every contender yields the same first batch for the same sampler seed."""
    first = [next(iter(loader)) for loader in loaders]
    for images, labels in first[1:]:
        if not (torch.equal(images, first[0][0]) and torch.equal(labels, first[0][1])):
            raise SystemExit("contenders disagree on the first batch; the comparison is void")
    print(
        f"first batch identical across contenders: images {tuple(first[0][0].shape)} "
        f"{first[0][0].dtype}, labels {tuple(first[0][1].shape)} {first[0][1].dtype}"
    )


def read_into_memory(path: Path, key: str) -> np.ndarray:
    """The whole dataset, read with h5py (the in-memory upper limit's copy)."""
    with h5py.File(path, "r") as file:
        return file[key][()]


def time_first_pass(images_path: Path, labels_path: Path, samples: int) -> None:
    """One pass through fresh H5Arrays, whose file pages this process has not mapped yet."""
    fresh = PatchPairs(H5Array(images_path, "x"), H5Array(labels_path, "y"))
    loader = make_loader(fresh, 0, samples)
    timing = measure("H5Array first pass, w=0", lambda: [None for _ in loader], warmup=0, repeats=1)
    report(timing, items=samples, unit="samples")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=16384, help="patches in the file")
    parser.add_argument("--peer-samples", type=int, default=2048, help="samples/pass, peers")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    # PCAM's PIL image through numpy.asarray is read-only; torch warns once, harmlessly.
    warnings.filterwarnings("ignore", message="The given NumPy array is not writable")

    with tempfile.TemporaryDirectory() as tmp:
        images_path, labels_path = write_pcam_files(Path(tmp), args.n)
        size_mb = images_path.stat().st_size / 2**20
        print(
            f"N = {args.n} patches {PATCH} uint8, {size_mb:.0f} MiB uncompressed; "
            f"batch {BATCH}; torch {torch.__version__}, h5py {h5py.__version__}"
        )
        images, labels = H5Array(images_path, "x"), H5Array(labels_path, "y")
        in_memory = read_into_memory(images_path, "x"), read_into_memory(labels_path, "y")
        contenders = {
            "histomammo H5Array": (PatchPairs(images, labels), args.n),
            "in-memory numpy": (PatchPairs(*in_memory), args.n),
            "torchvision PCAM (open per item)": (
                PCAM(tmp, split="train", transform=np.asarray, download=False),
                args.peer_samples,
            ),
            "open per item, no PIL": (
                OpenPerItem(images_path, labels_path, args.n),
                args.peer_samples,
            ),
            "H5Array, one item at a time": (PatchPairsPerItem(images, labels), args.n),
        }
        check_same_batches([make_loader(ds, 0, BATCH) for ds, _ in contenders.values()])
        contenders["no reads (the loader's ceiling)"] = (NoReads(args.n), args.n)
        print()
        time_first_pass(images_path, labels_path, args.n)
        for workers in (0, 2):
            print(f"\n-- num_workers={workers}")
            timings = {
                name: time_loader(
                    f"{name}, w={workers}", make_loader(ds, workers, samples), args.repeats
                )
                for name, (ds, samples) in contenders.items()
            }
            ours = timings["histomammo H5Array"]
            for peer in ("torchvision PCAM (open per item)", "open per item, no PIL"):
                print_ratio(
                    ours, timings[peer], peer, ours_items=args.n, peer_items=args.peer_samples
                )
            fraction = timings["in-memory numpy"].min_s / ours.min_s
            print(f"histomammo vs in-memory: {fraction:.2f} (fraction)")
        print(f"\npeak RSS of the main process: {max_rss_mb():.0f} MiB")


if __name__ == "__main__":
    main()

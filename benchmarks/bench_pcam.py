"""Samples/s of ``histomammo.datasets.PCam`` in a shuffled DataLoader (batch 64).

Claim: :class:`histomammo.datasets.PCam` reads at least 10x as many samples/s as
``torchvision.datasets.PCAM`` (which opens both HDF5 files for every item and goes through
PIL) at 0 and at 2 workers, and at least 90% of the samples/s of the same arrays held in
memory behind the same sample type. Every contender yields the same batch: uint8 images
``(64, 3, 96, 96)`` and int64 labels (checked); torchvision's PIL images are turned into
tensors with ``PILToTensor``, the in-memory contender builds ``tv_tensors.Image`` CHW views
as ``PCam`` does. The files are written in torchvision's layout (``root/pcam/``) and are in
the page cache (this measures the reader, not the disk). torchvision reads
``--peer-samples`` random samples per pass, the others N; ratios are of samples/s.

Run: ``python benchmarks/bench_pcam.py`` (about a minute on 2 cores; ``--n`` to change N).
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
from torchvision import tv_tensors
from torchvision.datasets import PCAM
from torchvision.transforms import PILToTensor

from histomammo.datasets import PCam

BATCH = 64


class InMemory(Dataset):
    """The same samples as PCam from numpy arrays in memory, batch path included."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self.images, self.labels = images, labels.reshape(-1).astype(np.int64)

    def __len__(self) -> int:
        return len(self.images)

    def _sample(self, image: np.ndarray, label: np.int64) -> tuple[torch.Tensor, int]:
        return tv_tensors.Image(torch.from_numpy(image).permute(2, 0, 1)), int(label)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self._sample(self.images[index], self.labels[index])

    def __getitems__(self, indices: list[int]) -> list[tuple[torch.Tensor, int]]:
        images = self.images[indices]
        return [self._sample(im, lb) for im, lb in zip(images, self.labels[indices], strict=True)]


def write_files(root: Path, n: int) -> Path:
    """Random patches in torchvision's PCAM layout under ``root/pcam``."""
    folder = root / "pcam"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    with h5py.File(folder / "camelyonpatch_level_2_split_train_x.h5", "w") as file:
        x = file.create_dataset("x", shape=(n, 96, 96, 3), dtype=np.uint8)
        for start in range(0, n, 2048):
            stop = min(start + 2048, n)
            x[start:stop] = rng.integers(0, 256, (stop - start, 96, 96, 3), dtype=np.uint8)
    with h5py.File(folder / "camelyonpatch_level_2_split_train_y.h5", "w") as file:
        file["y"] = rng.integers(0, 2, (n, 1, 1, 1), dtype=np.uint8)
    return folder


def loader(dataset: Dataset, workers: int, samples: int) -> DataLoader:
    sampler = RandomSampler(dataset, num_samples=samples, generator=torch.Generator().manual_seed(0))
    return DataLoader(dataset, batch_size=BATCH, sampler=sampler, num_workers=workers,
                      persistent_workers=workers > 0)


def time_loader(name: str, data: DataLoader, repeats: int) -> Timing:
    timing = measure(name, lambda: [None for _ in data], warmup=1, repeats=repeats)
    report(timing, items=len(data.sampler), unit="samples")
    return timing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=8192, help="patches in the file")
    parser.add_argument("--peer-samples", type=int, default=1024, help="samples/pass, torchvision")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_files(Path(tmp), args.n)
        print(f"N = {args.n} patches (96, 96, 3) uint8, batch {BATCH}, torch {torch.__version__}")
        ours = PCam(tmp, "train")
        memory = InMemory(ours.images[:], ours.targets)
        peer = PCAM(tmp, split="train", transform=PILToTensor(), download=False)
        first = [next(iter(loader(d, 0, args.peer_samples))) for d in (ours, memory, peer)]
        if not all(torch.equal(b[0], first[0][0]) and torch.equal(b[1], first[0][1])
                   for b in first[1:]):
            raise SystemExit("contenders disagree on the first batch; the comparison is void")
        print(f"first batch identical: images {tuple(first[0][0].shape)} {first[0][0].dtype}")
        for workers in (0, 2):
            print(f"-- {workers} workers")
            t_ours = time_loader(f"histomammo PCam, w={workers}", loader(ours, workers, args.n),
                                 args.repeats)
            t_mem = time_loader(f"in-memory, w={workers}", loader(memory, workers, args.n),
                                args.repeats)
            t_peer = time_loader(f"torchvision PCAM, w={workers}",
                                 loader(peer, workers, args.peer_samples), args.repeats)
            print_ratio(t_ours, t_peer, f"torchvision PCAM (w={workers})", ours_items=args.n,
                        peer_items=args.peer_samples)
            fraction = t_ours.rate(args.n) / t_mem.rate(args.n)
            print(f"histomammo PCam / in-memory (w={workers}): {fraction:.2f}")
        print(f"peak RSS of this process: {max_rss_mb():.0f} MiB (files in {folder})")


if __name__ == "__main__":
    main()

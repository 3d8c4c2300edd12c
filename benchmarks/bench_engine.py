"""Overhead of histomammo's Trainer over a bare hand-written PyTorch training loop.

Both train the same small CNN (3 conv layers on 3x64x64 inputs, batch 64, Adam) on the same
synthetic TensorDataset for the same number of optimizer steps, with a DataLoader that
shuffles. The Trainer runs as a user would run it to never lose work: ``progress=False``,
checkpoints every 50 steps and at every epoch end into a fresh directory. A third timing,
the Trainer without checkpoints, separates the cost of the loop from the cost of the
checkpoints. Repeats alternate between the contenders so machine noise hits all of them.

Target: the Trainer (with checkpoints) costs less than 3% over the bare loop.

Run: ``python benchmarks/bench_engine.py [--steps 300] [--repeats 3] [--threads N]
[--steady-allocator] [--cpu-time]``

``--cpu-time`` times each run by the CPU time of this process (``time.process_time``)
instead of wall-clock time: on a machine shared with other jobs, wall-clock time mostly
measures the others; with ``--threads 1`` the CPU time is the work itself.

On a CPU, glibc's malloc returns the large activation buffers of every step to the operating
system and page-faults them back in on the next one; on a virtual machine those faults cost
more than the engine does, and how many happen varies from run to run (measured here: 1.2 to
1.75 million minor faults for the same 300 steps of the bare loop alone). ``--steady-allocator``
asks glibc (``mallopt``) to keep freed memory for reuse, for every contender alike, which
removes that noise and shows the cost of the loop itself. Report both runs.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
# Time the checkout this file belongs to, not another installed copy of histomammo.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import Timing, measure, print_ratio, report  # noqa: E402

from histomammo.engine import Trainer  # noqa: E402
from histomammo.engine._checkpointer import Checkpointer  # noqa: E402

BATCH = 64
BATCHES_PER_EPOCH = 50
CHECKPOINT_EVERY = 50


def small_cnn() -> nn.Module:
    """Three strided 3x3 convolutions (16, 32, 64 channels), global pooling, a 10-way head."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10),
    )  # fmt: skip


def synthetic_data() -> TensorDataset:
    generator = torch.Generator().manual_seed(0)
    count = BATCH * BATCHES_PER_EPOCH
    images = torch.randn(count, 3, 64, 64, generator=generator)
    labels = torch.randint(0, 10, (count,), generator=generator)
    return TensorDataset(images, labels)


def loader(dataset: TensorDataset, device: torch.device) -> DataLoader:
    generator = torch.Generator().manual_seed(0)
    return DataLoader(
        dataset, batch_size=BATCH, shuffle=True, generator=generator,
        pin_memory=device.type == "cuda",
    )  # fmt: skip


def bare_loop(dataset: TensorDataset, epochs: int, device: torch.device) -> None:
    """The loop a careful user writes by hand."""
    model = small_cnn().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):
        for images, labels in loader(dataset, device):
            images = images.to(device, non_blocking=True)
            labels = labels.to(device, non_blocking=True)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(images), labels)
            loss.backward()
            optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def trainer_loop(dataset: TensorDataset, epochs: int, device: torch.device, checkpoints: bool):
    model = small_cnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    with tempfile.TemporaryDirectory() as directory:
        trainer = Trainer(
            model, optimizer, nn.CrossEntropyLoss(), device=device, progress=False,
            checkpoint_dir=directory if checkpoints else None,
            checkpoint_every=CHECKPOINT_EVERY if checkpoints else None,
        )  # fmt: skip
        history = trainer.fit(loader(dataset, device), epochs)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    if len(history) != epochs:
        raise RuntimeError(f"Trainer ran {len(history)} epochs, expected {epochs}")


class CheckpointClock:
    """Wall-clock seconds spent in the trainer's checkpoint writes (state, RNG, fsynced file,
    pruning), to tell the cost of the files from the cost of the loop."""

    def __init__(self) -> None:
        self.seconds, self.writes = 0.0, 0
        self._write = Checkpointer.write

    def __enter__(self) -> CheckpointClock:
        clock, write = self, self._write

        def timed(checkpointer, *args, **kwargs):
            start = time.perf_counter()
            try:
                return write(checkpointer, *args, **kwargs)
            finally:
                clock.seconds += time.perf_counter() - start
                clock.writes += 1

        Checkpointer.write = timed
        return self

    def __exit__(self, *exc) -> None:
        Checkpointer.write = self._write


def steady_allocator() -> bool:
    """Make glibc malloc keep freed memory (no per-step munmap and re-fault); False if not glibc."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    libc = ctypes.CDLL(name)
    if not hasattr(libc, "mallopt"):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    return bool(libc.mallopt(m_mmap_threshold, 32 * 2**20)) and bool(
        libc.mallopt(m_trim_threshold, 2**31 - 1)
    )


def _cpu_seconds(fn, epochs: int) -> float:
    start = time.process_time()
    fn(epochs)
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="optimizer steps per run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steady-allocator", action="store_true",
                        help="keep freed memory in glibc malloc (see the module docstring)")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time by process CPU time, not wall-clock (shared machines)")
    args = parser.parse_args()
    if args.steady_allocator and not steady_allocator():
        parser.error("--steady-allocator needs glibc's mallopt")
    if args.steps % BATCHES_PER_EPOCH:
        parser.error(f"--steps must be a multiple of {BATCHES_PER_EPOCH}, but got {args.steps}")
    torch.set_num_threads(args.threads)  # one setting for every contender
    device, epochs = torch.device(args.device), args.steps // BATCHES_PER_EPOCH
    dataset = synthetic_data()
    contenders = {
        "bare PyTorch loop": lambda epochs: bare_loop(dataset, epochs, device),
        "Trainer (checkpoints every 50 steps)": lambda epochs: trainer_loop(
            dataset, epochs, device, True
        ),
        "Trainer (no checkpoints)": lambda epochs: trainer_loop(dataset, epochs, device, False),
    }
    allocator = "steady allocator" if args.steady_allocator else "default allocator"
    clock = "CPU time" if args.cpu_time else "wall-clock time"
    print(
        f"{args.steps} steps of batch {BATCH} on {device}, {args.threads} threads, "
        f"{allocator}, {clock}, torch {torch.__version__}"
    )
    for fn in contenders.values():  # warm-up (one epoch): allocator, kernels, lazy imports
        fn(1)
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.repeats):  # alternate, so that machine noise hits every contender
        for name, fn in contenders.items():
            times[name].append(_cpu_seconds(fn, epochs) if args.cpu_time else
                               measure(name, lambda fn=fn: fn(epochs), warmup=0, repeats=1).min_s)
    timings = {
        name: Timing(name, min(ts), statistics.median(ts), len(ts), float("nan"))
        for name, ts in times.items()
    }
    for timing in timings.values():
        report(timing, items=args.steps, unit="steps")
    bare = timings["bare PyTorch loop"]
    for name in list(contenders)[1:]:
        ours = timings[name]
        overhead = (ours.min_s / bare.min_s - 1) * 100
        median_overhead = (ours.median_s / bare.median_s - 1) * 100
        print(f"{name}: overhead {overhead:+.1f}% (min), {median_overhead:+.1f}% (median)")
    with CheckpointClock() as clock:
        trainer_loop(dataset, epochs, device, True)
    print(f"checkpoint writes in one run: {clock.writes} files, "
          f"{clock.seconds / max(clock.writes, 1) * 1e3:.1f} ms each, {clock.seconds * 1e3:.0f} ms "
          f"in all = {clock.seconds / bare.min_s * 100:.1f}% of the bare loop's time")
    print_ratio(timings["Trainer (checkpoints every 50 steps)"], bare, "bare PyTorch loop")


if __name__ == "__main__":
    main()

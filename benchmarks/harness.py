"""Shared timing helper for every benchmark in this folder.

Each benchmark times histomammo and a peer in the same run with :func:`measure`, prints
both with :func:`report`, and ends with :func:`print_ratio`, whose line reads
``histomammo vs PEER: N.NNx`` (above 1 means histomammo is faster).
"""

from __future__ import annotations

import gc
import platform
import resource
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    """Seconds per call over ``repeats`` runs, and the peak Python heap growth of one run."""

    name: str
    min_s: float
    median_s: float
    repeats: int
    peak_mb: float

    def rate(self, items: int) -> float:
        """Items per second at the best (minimum) time."""
        return items / self.min_s


def measure(
    name: str,
    fn: Callable[[], object],
    *,
    warmup: int = 1,
    repeats: int = 5,
    trace_memory: bool = False,
) -> Timing:
    """Call ``fn`` ``warmup`` times untimed, then ``repeats`` times timed.

    With ``trace_memory=True`` one extra run is made under :mod:`tracemalloc` (which slows
    Python code, so it is never timed) to record the peak heap growth.
    """
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    peak_mb = float("nan")
    if trace_memory:
        gc.collect()
        tracemalloc.start()
        fn()
        peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return Timing(name, min(times), statistics.median(times), repeats, peak_mb)


def max_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if platform.system() == "Darwin" else rss / 2**10


def report(timing: Timing, items: int | None = None, unit: str = "items") -> None:
    """Print one timing line (with a rate when ``items`` is given)."""
    line = f"{timing.name:<40s} min {timing.min_s * 1e3:9.2f} ms  median {timing.median_s * 1e3:9.2f} ms"
    if items:
        line += f"  {timing.rate(items):12.1f} {unit}/s"
    if timing.peak_mb == timing.peak_mb:  # not NaN
        line += f"  peak {timing.peak_mb:8.1f} MiB"
    print(line)


def print_ratio(
    ours: Timing,
    peer: Timing,
    peer_name: str | None = None,
    *,
    ours_items: int | None = None,
    peer_items: int | None = None,
) -> float:
    """Print ``histomammo vs PEER: N.NNx`` (peer time / our time) and return the ratio.

    When the two timed different amounts of work, give ``ours_items`` and ``peer_items``:
    the ratio is then of rates (our items/s over the peer's items/s).
    """
    if (ours_items is None) != (peer_items is None):
        raise ValueError("give both ours_items and peer_items, or neither")
    if ours_items is None:
        ratio = peer.min_s / ours.min_s
    else:
        ratio = ours.rate(ours_items) / peer.rate(peer_items)
    print(f"histomammo vs {peer_name or peer.name}: {ratio:.2f}x")
    return ratio

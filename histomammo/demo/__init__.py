"""``python -m histomammo.demo``: the library's main job, end to end, on synthetic data.

A thin command line: each stage is a module with ``run(out, seed) -> dict`` that writes
synthetic data in the real layout, preprocesses, trains briefly with the engine, evaluates and
saves its pictures into its own sub-folder of ``out``; each stage takes under a minute on 2
idle CPU cores. The stages of the papers (``mammo_models``, ``pcam_models``, ``glas``,
``brecahad``, ``slide_inference``) call a workflow of [`histomammo.systems`][histomammo.systems] and pass
it ``device``, ``amp`` and
``channels_last`` when given (``benchmarks/gpu_check.py`` runs them on a GPU); ``io``,
``mammo_data`` and ``pcam_data`` show the data layers. `run_demo` runs the stages in order (or the ones named) and
writes ``summary.json`` and ``summary.md``.

Examples
--------
.. code-block:: bash

    python -m histomammo.demo --out demo_out --seed 0
    python -m histomammo.demo --only io
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from histomammo._atomic import atomic_write

__all__ = ["STAGES", "main", "run_demo"]

logger = logging.getLogger("histomammo.demo")

# stage name -> module of histomammo.demo holding its ``run(out, seed)``; in demo order
STAGES: dict[str, str] = {
    "io": "io_engine",
    "mammo_data": "mammo_data",
    "pcam_data": "pcam_data",
    "mammo_models": "mammo_models",
    "pcam_models": "pcam_models",
    "glas": "glas",
    "brecahad": "brecahad",
    "slide_inference": "slide_inference",
}


def _write_summary(out: Path, summary: dict[str, Any]) -> None:
    with atomic_write(out / "summary.json", "w") as f:
        json.dump(summary, f, indent=2, default=str)
    lines = ["# histomammo demo", ""]
    for stage, results in summary.items():
        lines += [f"## {stage}", "", "```json", json.dumps(results, indent=2, default=str),
                  "```", ""]
    with atomic_write(out / "summary.md", "w") as f:
        f.write("\n".join(lines))


def run_demo(
    out: str | Path = "demo_out", seed: int = 0, only: Sequence[str] | None = None
) -> dict[str, Any]:
    """Run the demo's stages, write the summary to ``out`` and return it.

    Parameters
    ----------
    out : str or Path
        Output folder, created if needed; stage ``name`` writes into ``out/name``.
    seed : int
        Seed of every random draw.
    only : sequence of str, optional
        Names from `STAGES` to run; all of them by default.

    Returns
    -------
    dict
        ``{stage: results}``, also written to ``out/summary.json``; each stage's results
        carry ``"seconds"``.
    """
    names = list(STAGES) if only is None else list(only)
    unknown = [name for name in names if name not in STAGES]
    if unknown:
        raise ValueError(f"unknown demo stage(s) {unknown}; the stages are {list(STAGES)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {}
    for name in names:
        stage = importlib.import_module(f"{__name__}.{STAGES[name]}")
        stage_out = out / name
        stage_out.mkdir(exist_ok=True)
        logger.info("stage %s ...", name)
        start = time.perf_counter()
        results = stage.run(stage_out, seed)
        results["seconds"] = round(time.perf_counter() - start, 2)
        logger.info("stage %s done in %.1f s", name, results["seconds"])
        summary[name] = results
    _write_summary(out, summary)
    logger.info("summary written to %s", out / "summary.json")
    return summary


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point of ``python -m histomammo.demo``."""
    parser = argparse.ArgumentParser(prog="python -m histomammo.demo", description=__doc__)
    parser.add_argument("--out", default="demo_out", help="output folder (default demo_out)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--only", nargs="+", choices=list(STAGES), help="stages to run")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stdout)
    run_demo(args.out, args.seed, args.only)
    return 0

"""Each system's demo stage on CUDA, with AMP and channels_last: does it run, how long per stage.

The demo stages (``python -m histomammo.demo``) are sized to run in under a minute on two CPU
cores. This script runs the four that train a model (``mammo_models``: the thesis and Shen et
al.; ``pcam_models``; ``glas``; ``brecahad``) on the GPU, each twice: as the CPU demo runs it
(float32, contiguous) and with ``amp=True`` and ``channels_last=True``, and reports the seconds
per stage, the stage's headline number and whether every tensor the stage made stayed on the
device (a CPU tensor made inside a loss or a post-processing step raises a device mismatch).

It needs a CUDA device and exits with status 2 and a message when there is none.

Run: ``python benchmarks/gpu_check.py [--out gpu_check_out] [--only glas brecahad] [--seed 0]``
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

# stage -> (module of histomammo.demo, the result to report)
STAGES: dict[str, tuple[str, str]] = {
    "mammo_models": ("mammo_models", "whole_image.table_6_3.test_auc"),
    "pcam_models": ("pcam_models", "auc"),
    "glas": ("glas", "testA.f1"),
    "brecahad": ("brecahad", "ap50"),
}
MODES = {"float32": {"amp": False, "channels_last": False},
         "amp+channels_last": {"amp": True, "channels_last": True}}


def _lookup(results: dict[str, Any], dotted: str) -> Any:
    value: Any = results
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def run_stage(name: str, out: Path, seed: int, mode: str) -> dict[str, Any]:
    """One stage in one mode on ``cuda``; the seconds, the headline number, or the error."""
    import importlib

    import torch

    module = importlib.import_module(f"histomammo.demo.{STAGES[name][0]}")
    torch.cuda.synchronize()
    start = time.perf_counter()
    try:
        results = module.run(out / f"{name}-{mode}", seed, device="cuda", **MODES[mode])
    except Exception as error:  # report every stage, then fail at the end
        return {"stage": name, "mode": mode, "ok": False,
                "error": f"{type(error).__name__}: {error}",
                "where": traceback.format_exc(limit=-3)}
    torch.cuda.synchronize()
    return {"stage": name, "mode": mode, "ok": True,
            "seconds": round(time.perf_counter() - start, 2),
            STAGES[name][1]: _lookup(results, STAGES[name][1])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: a temporary one)")
    parser.add_argument("--only", nargs="+", choices=list(STAGES), default=list(STAGES))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device is available (torch.cuda.is_available() is False); "
              "this check runs the demo stages on a GPU and was not run.", file=sys.stderr)
        return 2
    out = args.out or Path(tempfile.mkdtemp(prefix="gpu_check_"))
    print(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    rows = []
    for name in args.only:
        for mode in MODES:
            row = run_stage(name, out, args.seed, mode)
            rows.append(row)
            shown = {k: v for k, v in row.items() if k != "where"}
            print(json.dumps(shown), flush=True)
            if not row["ok"]:
                print(row["where"], file=sys.stderr)
    (out / "gpu_check.json").write_text(json.dumps(rows, indent=2))
    print(f"{'stage':14s} {'mode':18s} {'seconds':>8s}")
    for row in rows:
        seconds = f"{row['seconds']:8.1f}" if row["ok"] else "  FAILED"
        print(f"{row['stage']:14s} {row['mode']:18s} {seconds}")
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

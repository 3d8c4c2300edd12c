"""Fuzz histomammo's readers and print the tally table (``make fuzz``).

Run: ``python tests/fuzz/run_fuzz.py --mutants 10000 --workers 2`` (10,000 mutants per
format by default; the seeded mutants are the same on every run with the same ``--seed``).
Exit status 1 when any mutant gave a raw exception, a hang, a crash or garbage; the first
failures are listed under the table with their seed file and mutation.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

# The checkout's histomammo, not another installed copy, is the one fuzzed.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from fuzzlib import FORMATS, Tally, fuzz, table  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=int, default=10_000, help="mutants per format")
    parser.add_argument("--workers", type=int, default=2, help="reader processes")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per mutant")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    parser.add_argument("--show", type=int, default=20, help="failures listed")
    args = parser.parse_args()
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="histomammo-fuzz-") as folder:
        for fmt in args.formats:
            start = time.perf_counter()
            fuzz(fmt, args.mutants, Path(folder), seed=args.seed, workers=args.workers,
                 timeout=args.timeout, tally=tally)
            print(f"{fmt}: {args.mutants} mutants in {time.perf_counter() - start:.0f} s",
                  flush=True)
    print()
    print(table(tally))
    for mutant, outcome, detail in tally.failures[: args.show]:
        print(f"{outcome}: {mutant.fmt} #{mutant.index} of {mutant.seed_file} "
              f"({mutant.description}): {detail}")
    return 1 if tally.failures else 0


if __name__ == "__main__":
    sys.exit(main())

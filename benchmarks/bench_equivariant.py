"""Equivariant models: exported vs un-exported inference, and a G-CNN training step vs a plain CNN.

Claims (targets of issue 14): ``export()`` makes inference of the G-CNN and of the
P4M-DenseNet at least 2x as fast as the e2cnn model (eval mode, no gradients, same batch,
outputs asserted equal within 1e-5); a training step (forward, backward, Adam step) of the
G-CNN costs at most 1.2x that of :class:`~histomammo.models.equivariant_baseline.PlainCNN` of
equal width (the same number of feature maps, ``|G| * widths``), i.e. a ratio >= 0.83 below.

Fairness: both contenders of a pair run on the same batch with the same thread count, in
alternating repeats (A, B, A, B, ...) so that load from other processes hits both alike; the
un-exported model runs in eval mode under ``torch.no_grad()`` like the exported one; the plain
CNN has the G-CNN's feature maps. Every pair is reported at each batch size, with the ratio of
minimum times (the figure an idle machine approaches) and of median times.

``--compile`` adds both models under ``torch.compile`` (inductor, with ``freezing`` so the
weights are constants and oneDNN's convolutions are prepacked): whether a compiler closes or
widens the gap. The compiled e2cnn model is the fair partner of the compiled export, since
dynamo traces through e2cnn's wrappers too. Compiling takes tens of seconds per model and
batch size and needs a C++ compiler.

Run: ``python benchmarks/bench_equivariant.py`` (a few minutes on 2 cores; ``--batches``,
``--widths``, ``--group``, ``--threads``, ``--repeats``, ``--compile`` to change it).

``--invariance`` instead prints the invariance ratio
([`invariance_ratio`][histomammo.models.invariance.invariance_ratio]: the largest logit change
under a rotation or mirror over the largest change a new input makes; below 1e-3 is exact up to
float rounding) of every equivariant model at 96x96 and at the sides its docs list, before and
after ``export()``: small widths, then the paper-scale configurations a CPU can hold.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable

import torch
from harness import Timing, print_ratio, report

from histomammo.models import calibrate_batchnorm, create_model
from histomammo.models._inference import optimize_exported
from histomammo.models.densenet_p4m import P4MDenseNet
from histomammo.models.equivariant import GCNN, GROUPS
from histomammo.models.equivariant_baseline import PlainCNN
from histomammo.models.invariance import invariance_ratio


def alternate(named: dict[str, Callable[[], object]], repeats: int) -> dict[str, Timing]:
    """Time every callable ``repeats`` times, interleaved, after one untimed warm-up each."""
    for fn in named.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in named}
    for _ in range(repeats):
        for name, fn in named.items():
            gc.collect()
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: Timing(name, min(t), statistics.median(t), repeats, float("nan"))
            for name, t in times.items()}


def ratios(ours: Timing, peer: Timing, peer_name: str) -> None:
    """Print the min-time ratio (harness line) and the median-time ratio."""
    print_ratio(ours, peer, peer_name)
    print(f"  (median-time ratio {peer.median_s / ours.median_s:.2f}x)")


def compiled(model: torch.nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """``torch.compile`` for inference: inductor with frozen (constant, prepacked) weights."""
    import torch._inductor.config as inductor_config

    inductor_config.freezing = True
    return torch.compile(model)


def inference(name: str, model: torch.nn.Module, x: torch.Tensor, repeats: int,
              floor: torch.nn.Module | None = None, compile_too: bool = False) -> None:
    """Exported vs e2cnn model; ``floor``: a plain CNN of equal width, timed as a reference."""
    model.eval()
    exported = model.export()
    contenders = {f"{name} exported": lambda: exported(x),
                  f"{name} e2cnn (eval)": lambda: model(x)}
    if floor is not None:
        fast_floor = optimize_exported(floor.eval())  # the same rewrites, NHWC
        contenders["plain CNN, equal width, NHWC"] = lambda: fast_floor(x)
    if compile_too:
        fast_exported, fast_model = compiled(exported), compiled(model)
        contenders[f"{name} exported, compiled"] = lambda: fast_exported(x)
        contenders[f"{name} e2cnn, compiled"] = lambda: fast_model(x)
    with torch.no_grad():
        for contender_name, contender in contenders.items():  # compiles here, untimed
            if contender_name.startswith(name):  # the plain CNN computes something else
                torch.testing.assert_close(contender(), model(x), atol=1e-5, rtol=1e-5)
        t = alternate(contenders, repeats)
    ours, peer = t[f"{name} exported"], t[f"{name} e2cnn (eval)"]
    for timing in t.values():
        report(timing, x.shape[0], "patches")
    ratios(ours, peer, peer.name)
    if compile_too:
        print("  compiled, both:", end=" ")
        ratios(t[f"{name} exported, compiled"], t[f"{name} e2cnn, compiled"],
               f"{name} e2cnn, compiled")
    if floor is not None:
        plain = t["plain CNN, equal width, NHWC"]
        print(f"  (exported G-CNN time / plain CNN time: {ours.min_s / plain.min_s:.2f}; "
              "1.00 means the exported model costs what its convolutions cost)")


def training_step(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()

    return step


def training(group: str, widths: tuple[int, ...], x: torch.Tensor, repeats: int) -> None:
    torch.manual_seed(0)
    y = torch.randint(0, 2, (x.shape[0],))
    maps = tuple(GROUPS[group] * w for w in widths)
    gcnn = GCNN(group, widths=widths, hidden=256)
    plain = PlainCNN(channels=maps, hidden=256)
    t = alternate({"GCNN training step": training_step(gcnn, x, y),
                   "PlainCNN training step": training_step(plain, x, y)}, repeats)
    ours, peer = t["GCNN training step"], t["PlainCNN training step"]
    print(f"-- training step, batch {x.shape[0]}: G-CNN vs plain CNN, both {list(maps)} maps")
    report(ours, x.shape[0], "patches")
    report(peer, x.shape[0], "patches")
    print("  (plain-CNN time / G-CNN time; >= 0.83 meets 'at most 1.2x the plain CNN')")
    ratios(ours, peer, "plain CNN of equal width")


# (label, builder, kwargs, sides): small widths at the sides the docs list, then paper scale
INVARIANCE_CASES = [
    ("small", "gcnn", dict(widths=(2, 2, 2), hidden=8), (32, 64, 96, 100, 128)),
    ("small", "p4m_densenet", dict(growth=2, layers_per_block=1), (32, 64, 96, 128)),
    ("small", "all_gconv_net", dict(widths=(1, 1, 2, 2, 2, 2)), (94, 96, 126)),
    ("seed final widths", "gcnn", dict(widths=(48, 96, 192)), (96,)),
    ("default", "p4m_densenet", {}, (96,)),
    ("1/16 seed widths", "all_gconv_net", dict(widths=(20, 40, 60, 80, 100, 120)), (96,)),
]


def invariance_table() -> None:
    """Print the invariance ratio of each case, group and side, model and export."""
    generator = torch.Generator().manual_seed(0)
    for label, name, kwargs, sides in INVARIANCE_CASES:
        for group in ("p4", "p4m"):
            torch.manual_seed(0)
            model = create_model(name, group=group, **kwargs)
            if name == "p4m_densenet":  # running statistics: a random DenseNet's vanish
                calibrate_batchnorm(model, torch.randn(16, 3, 64, 64, generator=generator))
            model.eval()
            exported = model.export()
            for side in sides:
                x, y = (torch.randn(2, 3, side, side, generator=generator) for _ in range(2))
                print(f"{label:18s} {name:14s} {group:4s} {side:4d}  "
                      f"model {invariance_ratio(model, x, y, group):.1e}  "
                      f"exported {invariance_ratio(exported, x, y, group):.1e}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="1,8,32", help="batch sizes, comma-separated")
    parser.add_argument("--group", default="p4m", choices=sorted(GROUPS))
    parser.add_argument("--widths", default="8,16,16", help="G-CNN fields per stage")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--compile", action="store_true",
                        help="also time both models under torch.compile (inductor, freezing)")
    parser.add_argument("--invariance", action="store_true",
                        help="print the invariance ratios instead of timing")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.invariance:
        invariance_table()
        return
    widths = tuple(int(w) for w in args.widths.split(","))
    torch.manual_seed(0)
    gcnn = GCNN(args.group, widths=widths, hidden=256)
    densenet = P4MDenseNet(growth=4)
    plain = PlainCNN(channels=tuple(GROUPS[args.group] * w for w in widths), hidden=256)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, 96x96 patches")
    for batch in (int(b) for b in args.batches.split(",")):
        x = torch.randn(batch, 3, 96, 96)
        print(f"== batch {batch}")
        inference(f"GCNN {args.group} {widths}", gcnn, x, args.repeats, floor=plain,
                  compile_too=args.compile)
        inference("P4M-DenseNet (growth 4)", densenet, x, args.repeats, compile_too=args.compile)
        if not args.skip_training:
            training(args.group, widths, x, args.repeats)


if __name__ == "__main__":
    main()

"""Equivariant models: exported vs un-exported inference, and a G-CNN training step vs a plain CNN.

Claims (targets of issue 14): ``export()`` makes inference of the G-CNN and of the
P4M-DenseNet at least 2x as fast as the e2cnn model (eval mode, no gradients, same batch,
outputs asserted equal within 1e-5); a training step (forward, backward, Adam step) of the
G-CNN costs at most 1.2x that of :class:`~histomammo.models.equivariant_baseline.PlainCNN` of
equal width (the same number of feature maps, ``|G| * widths``), i.e. a ratio >= 0.83 below.

Run: ``python benchmarks/bench_equivariant.py`` (about a minute on 2 cores; ``--batch``,
``--widths``, ``--group`` to change the sizes).
"""

from __future__ import annotations

import argparse

import torch
from harness import measure, print_ratio, report

from histomammo.models.densenet_p4m import P4MDenseNet
from histomammo.models.equivariant import GCNN, GROUPS
from histomammo.models.equivariant_baseline import PlainCNN


def inference(name: str, model: torch.nn.Module, x: torch.Tensor, repeats: int) -> float:
    model.eval()
    exported = model.export()
    with torch.no_grad():
        torch.testing.assert_close(exported(x), model(x), atol=1e-5, rtol=1e-5)

        def run_model() -> None:
            model(x)

        def run_exported() -> None:
            exported(x)

        ours = measure(f"{name} exported", run_exported, repeats=repeats)
        peer = measure(f"{name} e2cnn (eval)", run_model, repeats=repeats)
    report(ours, x.shape[0], "patches")
    report(peer, x.shape[0], "patches")
    return print_ratio(ours, peer)


def training_step(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--group", default="p4m", choices=sorted(GROUPS))
    parser.add_argument("--widths", default="8,16,16", help="G-CNN fields per stage")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    widths = tuple(int(w) for w in args.widths.split(","))
    x = torch.randn(args.batch, 3, 96, 96)
    y = torch.randint(0, 2, (args.batch,))
    gcnn = GCNN(args.group, widths=widths, hidden=256)
    print(f"== inference, batch {args.batch}, 96x96")
    inference(f"GCNN {args.group} {widths}", gcnn, x, args.repeats)
    inference("P4M-DenseNet (growth 4)", P4MDenseNet(growth=4), x, args.repeats)

    maps = [GROUPS[args.group] * w for w in widths]
    plain = PlainCNN(channels=tuple(maps), hidden=256)
    print(f"== training step, batch {args.batch}: G-CNN vs plain CNN, both {maps} maps")
    plain_step = measure("PlainCNN training step", training_step(plain, x, y),
                         repeats=args.repeats)
    gcnn_step = measure("GCNN training step", training_step(gcnn, x, y), repeats=args.repeats)
    report(gcnn_step, args.batch, "patches")
    report(plain_step, args.batch, "patches")
    print("(plain-CNN time / G-CNN time; >= 0.83 meets 'at most 1.2x the plain CNN')")
    print_ratio(gcnn_step, plain_step, "plain CNN of equal width")


if __name__ == "__main__":
    main()

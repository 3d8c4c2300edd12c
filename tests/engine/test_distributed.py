"""DDP on CPU: two gloo ranks must train exactly like one process with the global batch."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from _ddp_script import CONFIGS, datasets, mean_absolute_error, run
from torch.utils.data import DataLoader

import histomammo
from histomammo.engine import Trainer, distributed
from histomammo.engine._rng import capture_rng_state, restore_rng_state
from histomammo.engine.checkpoint import _list_checkpoints, load_checkpoint

SCRIPT = Path(__file__).with_name("_ddp_script.py")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _package_parent() -> str:
    """The ranks import the histomammo under test (not another installed copy)."""
    parent = str(Path(histomammo.__file__).resolve().parents[1])
    return os.pathsep.join([parent, *filter(None, [os.environ.get("PYTHONPATH")])])


def _launch(world_size: int, out: Path) -> None:
    """Start ``world_size`` ranks as torchrun would (loopback only) and wait for them."""
    port = str(_free_port())
    processes = []
    for rank in range(world_size):
        env = dict(os.environ, RANK=str(rank), WORLD_SIZE=str(world_size),
                   LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1", MASTER_PORT=port,
                   OMP_NUM_THREADS="1", PYTHONPATH=_package_parent())
        processes.append(subprocess.Popen(
            [sys.executable, str(SCRIPT), str(out)], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ))
    for rank, process in enumerate(processes):
        try:
            _, stderr = process.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            stderr = "timed out (a rank waiting for another that took a different decision?)"
        if process.returncode != 0:  # a failed or hung rank: stop the others too
            for other in processes:
                if other.poll() is None:
                    other.kill()
        assert process.returncode == 0, f"rank {rank} failed:\n{stderr}"


@pytest.fixture(scope="module")
def ddp_results(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ddp")
    _launch(2, out)
    return out


def _single_process(name: str, checkpoint_dir: Path) -> dict:
    threads, saved = torch.get_num_threads(), capture_rng_state()
    torch.set_num_threads(1)
    try:
        return run(name, world_size=1, checkpoint_dir=checkpoint_dir)
    finally:
        torch.set_num_threads(threads)
        restore_rng_state(saved)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_two_ranks_match_one_process(name, ddp_results, tmp_path):
    assert not distributed.is_distributed()
    single = _single_process(name, tmp_path)
    ddp = torch.load(ddp_results / f"{name}.pt", weights_only=True)
    for key, value in single["weights"].items():
        torch.testing.assert_close(ddp["weights"][key], value, atol=1e-5, rtol=0)
    # weights moved away from their initialisation, so the comparison has teeth
    assert not torch.allclose(single["weights"]["0.weight"], _initial_weights()["0.weight"])
    for row_ddp, row_single in zip(ddp["history"], single["history"], strict=True):
        for key in ("epoch", "step"):
            assert row_ddp[key] == row_single[key]
        for key in ("loss", "val_loss", "val_mae"):
            assert row_ddp[key] == pytest.approx(row_single[key], abs=1e-5)
    # predictions gathered from both ranks, padding dropped, in dataset order
    assert ddp["predictions"].shape == (13, 1)
    torch.testing.assert_close(ddp["predictions"], single["predictions"], atol=1e-5, rtol=0)


def _initial_weights() -> dict[str, torch.Tensor]:
    torch_state = torch.get_rng_state()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    torch.set_rng_state(torch_state)
    return model.state_dict()


def test_only_rank_zero_writes_checkpoints(ddp_results):
    writers = (ddp_results / "writers.txt").read_text().split()
    assert writers and set(writers) == {"0"}
    for name in CONFIGS:
        newest = _list_checkpoints(ddp_results / name)[0]
        state = load_checkpoint(newest)
        assert state["world_size"] == 2
        assert len(state["rng"]) == 2  # every rank's generators
        assert state["sampler"] == {"epoch": 2, "consumed": 0}
        assert (ddp_results / name / "history.csv").is_file()


def test_stop_decisions_evaluation_and_short_groups_agree_across_ranks(ddp_results):
    ranks = [torch.load(ddp_results / f"rank-{r}.pt", weights_only=True) for r in (0, 1)]
    assert [rank["epochs"] for rank in ranks] == [1, 1]  # rank 1 alone asked to stop
    for kind in ("plain", "own"):
        assert ranks[0][kind] == ranks[1][kind], kind  # metrics from all ranks' outputs
    assert ranks[0]["plain"]["count"] == 13  # no padding duplicates
    assert ranks[0]["own"]["count"] == 14  # DistributedSampler pads 13 to 14 itself
    # the sharded evaluation equals the single-process one on the same weights
    model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    model.load_state_dict(ranks[0]["weights"])
    single = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), torch.nn.MSELoss(),
                     device="cpu", seed=0, progress=False).evaluate(
        DataLoader(datasets()[2], batch_size=3), {"mae": mean_absolute_error})
    assert ranks[0]["plain"]["loss"] == pytest.approx(single["loss"], abs=1e-6)
    assert ranks[0]["plain"]["mae"] == pytest.approx(single["mae"], abs=1e-6)
    # the short last accumulation group of a stream is all-reduced: replicas stay equal
    for key, value in ranks[0]["streamed"].items():
        assert torch.equal(ranks[1]["streamed"][key], value), key

"""Kill a training run at awkward instants, resume it, and demand bit-identical results."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from _train_script import EPOCHS, Interrupted, KillAt, make_trainer, train

import histomammo
from histomammo.engine._rng import capture_rng_state, restore_rng_state
from histomammo.engine.checkpoint import _list_checkpoints

SCRIPT = Path(__file__).with_name("_train_script.py")


@pytest.fixture(autouse=True, scope="module")
def _single_thread_and_own_rng():
    """One thread as in the killed subprocesses; and since the trainer seeds the global
    generators by design, give the other tests theirs back afterwards."""
    threads = torch.get_num_threads()
    saved = capture_rng_state()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    restore_rng_state(saved)


def _without_seconds(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


@pytest.fixture(scope="module")
def reference() -> tuple[dict[str, torch.Tensor], list[dict]]:
    """The uninterrupted run (no checkpoints at all)."""
    trainer = make_trainer(checkpoint_dir=None)
    history = train(trainer)
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}, history


def _run_killed(directory: Path, *args: str) -> None:
    process = subprocess.run(
        [sys.executable, str(SCRIPT), "--dir", str(directory), *args],
        capture_output=True, text=True, timeout=120,
        env=dict(os.environ, PYTHONPATH=str(Path(histomammo.__file__).resolve().parents[1])),
    )
    assert process.returncode == -signal.SIGKILL, process.stderr


def _assert_identical(trainer, reference) -> None:
    weights, history = reference
    final = trainer.model.state_dict()
    assert final.keys() == weights.keys()
    for key, value in weights.items():
        assert torch.equal(final[key], value), key
    assert _without_seconds(trainer.history) == _without_seconds(history)
    assert len(trainer.history) == EPOCHS


CASES = {
    # name: (script arguments, global step of the checkpoint resumed from)
    "early": (["--every", "2", "--kill-step", "3"], 2),
    "mid_epoch": (["--every", "3", "--kill-step", "27"], 24),
    "epoch_boundary": (["--every", "3", "--kill-epoch-start", "2"], 40),
    "between_write_and_rename": (["--every", "1", "--kill-replace", "33"], 32),
}


@pytest.mark.parametrize("case", list(CASES))
def test_resume_after_kill_matches_uninterrupted_run(case, tmp_path, reference):
    arguments, resumed_step = CASES[case]
    _run_killed(tmp_path, *arguments)
    newest = _list_checkpoints(tmp_path)[0]
    assert newest.name == f"checkpoint-{resumed_step:09d}.pt"
    leftovers = list(tmp_path.glob("*.tmp"))
    assert bool(leftovers) == (case == "between_write_and_rename")

    every = int(arguments[1])
    trainer = make_trainer(tmp_path, checkpoint_every=every)
    train(trainer)

    _assert_identical(trainer, reference)
    assert not list(tmp_path.glob("*.tmp"))
    assert len(_list_checkpoints(tmp_path)) == 2  # keep_last
    assert (tmp_path / "history.csv").read_text().count("\n") == EPOCHS + 1


def test_resume_skips_corrupt_newest_checkpoint(tmp_path, reference):
    with pytest.raises(Interrupted):
        train(make_trainer(tmp_path, checkpoint_every=5, kill=KillAt(33, sigkill=False)))
    newest, older = _list_checkpoints(tmp_path)[:2]
    newest.write_bytes(newest.read_bytes()[: 100])  # truncated, as by a failing disk
    trainer = make_trainer(tmp_path, checkpoint_every=5)
    with pytest.warns(UserWarning, match="skipping checkpoint"):
        train(trainer)
    _assert_identical(trainer, reference)


@pytest.mark.slow
@pytest.mark.parametrize("step", [1, 19, 20, 21, 41, 59])
def test_resume_at_many_steps(step, tmp_path, reference):
    _run_killed(tmp_path, "--every", "1", "--kill-step", str(step))
    trainer = make_trainer(tmp_path, checkpoint_every=1)
    train(trainer)
    _assert_identical(trainer, reference)


@pytest.mark.slow
def test_resume_with_accumulation_and_batch_scheduler(tmp_path):
    uninterrupted = make_trainer(None, accumulate=3, scheduler_step="batch")
    train(uninterrupted)
    _run_killed(tmp_path, "--every", "2", "--kill-step", "11", "--accumulate", "3",
                "--scheduler-step", "batch")
    trainer = make_trainer(tmp_path, checkpoint_every=2, accumulate=3, scheduler_step="batch")
    train(trainer)
    reference = (uninterrupted.model.state_dict(), uninterrupted.history)
    _assert_identical(trainer, reference)


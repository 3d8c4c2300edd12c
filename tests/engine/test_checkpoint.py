"""Checkpoint files: atomic, weights_only-safe, newest found, corrupt ones refused."""

from __future__ import annotations

import errno
import pickle

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from histomammo.engine import Trainer
from histomammo.engine.checkpoint import (
    _list_checkpoints,
    _prune_checkpoints,
    _remove_temporaries,
    checkpoint_name,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from histomammo.errors import CheckpointError


class _CreatesFileWhenUnpickled:
    """Unpickling this calls open(path, "w"): a file appears if it is ever executed."""

    def __init__(self, path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_smoke(tmp_path):
    state = {"weights": torch.arange(4.0), "epoch": 2, "rng": (3, [1, 2], None), "lr": 1e-3}
    path = save_checkpoint(tmp_path / "a.pt", state)
    loaded = load_checkpoint(path)
    assert torch.equal(loaded["weights"], state["weights"])
    assert loaded["rng"] == (3, [1, 2], None) and loaded["epoch"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["a.pt"]  # no temporary left


def test_refuses_to_save_what_weights_only_cannot_load(tmp_path):
    with pytest.raises(CheckpointError, match=r"state\['extra'\]\['x'\].*numpy"):
        save_checkpoint(tmp_path / "a.pt", {"extra": {"x": np.float64(1.0)}})
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("writer", ["torch", "pickle"])
def test_arbitrary_pickle_is_refused_and_never_executed(tmp_path, writer):
    marker = tmp_path / "executed.txt"
    path = tmp_path / "evil.pt"
    payload = {"model": _CreatesFileWhenUnpickled(marker)}
    if writer == "torch":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(CheckpointError, match="evil.pt"):
        load_checkpoint(path)
    assert not marker.exists()


def test_truncated_and_garbage_files_name_the_file(tmp_path):
    good = save_checkpoint(tmp_path / "good.pt", {"w": torch.ones(1000)})
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:-500])
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00\x01 definitely not a checkpoint")
    for path in (truncated, garbage):
        with pytest.raises(CheckpointError, match=path.name):
            load_checkpoint(path)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="expected a dict"):
        load_checkpoint(tmp_path / "list.pt")


def test_newest_listing_and_pruning(tmp_path):
    for step in (5, 100, 20):
        save_checkpoint(tmp_path / checkpoint_name(step), {"step": step})
    (tmp_path / ".checkpoint-000000999.pt.x1.tmp").write_bytes(b"half a write")
    (tmp_path / "best.pt").write_bytes(b"")
    assert latest_checkpoint(tmp_path).name == "checkpoint-000000100.pt"
    assert [p.name for p in _list_checkpoints(tmp_path)] == [
        checkpoint_name(100), checkpoint_name(20), checkpoint_name(5)]
    assert _prune_checkpoints(tmp_path, keep_last=2) == [tmp_path / checkpoint_name(5)]
    assert [p.name for p in _remove_temporaries(tmp_path)] == [".checkpoint-000000999.pt.x1.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "best.pt", checkpoint_name(20), checkpoint_name(100)]
    assert latest_checkpoint(tmp_path / "absent") is None


def _trainer(model: nn.Module, **kwargs) -> Trainer:
    return Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.MSELoss(),
                   device="cpu", progress=False, **kwargs)


def test_trainer_checkpoint_loads_with_weights_only(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    trainer = _trainer(model)
    path = trainer.save_checkpoint(tmp_path / "state.pt")
    state = torch.load(path, weights_only=True)
    for key in ("model", "optimizer", "epoch", "batch_in_epoch", "global_step", "sampler",
                "history", "callbacks", "rng", "scheduler", "scaler"):
        assert key in state
    assert set(state["rng"][0]) == {"python", "numpy", "torch", "cuda"}


def test_model_key_mismatch_lists_the_keys(tmp_path):
    path = _trainer(nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 1))).save_checkpoint(
        tmp_path / "a.pt")
    other = _trainer(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1)))
    with pytest.raises(CheckpointError, match=r"missing \['2.bias', '2.weight'\]") as err:
        other.load_checkpoint(path, model_only=True)
    assert "unexpected ['1.bias', '1.weight']" in str(err.value)
    wrong_shape = _trainer(nn.Sequential(nn.Linear(3, 5), nn.Linear(5, 1)))
    with pytest.raises(CheckpointError, match="do not fit"):
        wrong_shape.load_checkpoint(path)
    save_checkpoint(tmp_path / "b.pt", {"model": {}})
    with pytest.raises(CheckpointError, match="missing entries"):
        other.load_checkpoint(tmp_path / "b.pt")


def test_model_only_load_copies_weights(tmp_path):
    source = nn.Linear(3, 2)
    path = _trainer(source).save_checkpoint(tmp_path / "w.pt")
    target = nn.Linear(3, 2)
    _trainer(target).load_checkpoint(path, model_only=True)
    assert torch.equal(target.weight, source.weight) and torch.equal(target.bias, source.bias)


# ------------------------------------------------------------ faults
def _fit(directory, epochs=2, **kwargs):
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    data = DataLoader(TensorDataset(torch.randn(16, 3), torch.randn(16, 2)), batch_size=4)
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.MSELoss(),
                      device="cpu", progress=False, seed=0, checkpoint_dir=directory, **kwargs)
    return trainer, trainer.fit(data, epochs)


def test_flipped_byte_in_a_tensor_is_a_corrupt_checkpoint(tmp_path):
    trainer, _ = _fit(tmp_path)
    newest, older = _list_checkpoints(tmp_path)[:2]
    raw = bytearray(newest.read_bytes())
    weight = trainer.model.weight.detach().numpy().tobytes()
    at = bytes(raw).find(weight)
    assert at > 0  # the payload is stored uncompressed: torch.load would not notice
    raw[at + 5] ^= 0x10
    newest.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="digest"):
        load_checkpoint(newest)
    with pytest.warns(UserWarning, match="skipping checkpoint.*digest"):
        resumed, _ = _fit(tmp_path, epochs=2)
    assert resumed.global_step == 8  # resumed from the older one, then trained epoch 1 again
    assert load_checkpoint(older)["global_step"] == 4


@pytest.mark.parametrize("failure", [
    OSError(errno.ENOSPC, "No space left on device"),
    RuntimeError("[enforce fail at inline_container.cc:626] . unexpected pos 64 vs 0"),
])
def test_full_disk_raises_checkpoint_error_and_keeps_earlier_files(tmp_path, monkeypatch,
                                                                    failure):
    _fit(tmp_path, epochs=1)
    before = {path.name: path.read_bytes() for path in _list_checkpoints(tmp_path)}
    real_save = torch.save

    def full_disk(obj, handle, *args, **kwargs):
        handle.write(b"partial")
        raise failure

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(CheckpointError, match=rf"{tmp_path}: disk full .* needs about .* free"):
        _fit(tmp_path, epochs=2)
    monkeypatch.setattr(torch, "save", real_save)
    assert {path.name: path.read_bytes() for path in _list_checkpoints(tmp_path)} == before
    assert not list(tmp_path.glob(".*.tmp"))
    assert load_checkpoint(_list_checkpoints(tmp_path)[0])["global_step"] == 4


def test_other_write_errors_are_not_called_a_full_disk(tmp_path, monkeypatch):
    def broken(obj, handle, *args, **kwargs):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(torch, "save", broken)
    with pytest.raises(OSError, match="Input/output"):
        save_checkpoint(tmp_path / "a.pt", {"w": torch.ones(2)})


def test_directory_in_the_way_raises_checkpoint_error(tmp_path):
    blocker = tmp_path / checkpoint_name(4)
    blocker.mkdir(parents=True)
    with pytest.raises(CheckpointError, match=rf"{blocker}: a directory stands where"):
        _fit(tmp_path, epochs=1)
    with pytest.raises(CheckpointError, match="a directory stands"):
        save_checkpoint(blocker, {"w": torch.ones(2)})


def test_programming_errors_are_not_reported_as_corrupt_files(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "a.pt", {"w": torch.ones(2)})

    def buggy(*args, **kwargs):
        raise TypeError("a bug, not a corrupt file")

    monkeypatch.setattr(torch, "load", buggy)
    with pytest.raises(TypeError, match="a bug"):
        load_checkpoint(path)

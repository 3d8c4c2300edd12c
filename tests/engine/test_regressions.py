"""Regression tests of issue #6's defects, each reproducing the reported failure first."""

from __future__ import annotations

import random
import sys
import types
import warnings

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset

from histomammo.engine import Trainer
from histomammo.engine._rng import capture_rng_state, restore_rng_state
from histomammo.engine.callbacks import Callback, Stage, StagedUnfreeze
from histomammo.errors import CheckpointError


@pytest.fixture(autouse=True)
def _keep_global_rng():
    saved = capture_rng_state()
    yield
    restore_rng_state(saved)


def _data(n: int = 16, seed: int = 0) -> TensorDataset:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=generator)
    return TensorDataset(x, (x[:, 0] > 0).long())


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


def _trainer(model, **kwargs) -> Trainer:
    optimizer = kwargs.pop("optimizer", None) or torch.optim.SGD(
        model.parameters(), lr=0.1, momentum=0.9)
    kwargs.setdefault("seed", 0)
    return Trainer(model, optimizer, kwargs.pop("loss_fn", nn.CrossEntropyLoss()),
                   device="cpu", progress=False, **kwargs)


def _weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


class Interrupt(Exception):
    pass


# ---------------------------------------------------------------- defect 4
def test_explicit_load_wins_over_the_checkpoint_directory(tmp_path):
    loader = DataLoader(_data(), batch_size=4, shuffle=True)
    first = _trainer(_model(), checkpoint_dir=tmp_path / "run")
    first.fit(loader, 1)
    saved = first.save_checkpoint(tmp_path / "epoch1.pt")
    after_one = _weights(first.model)
    first.fit(loader, 3)  # the directory now holds newer checkpoints (epoch 3)

    for resume in (True, False):
        again = _trainer(_model(), checkpoint_dir=tmp_path / "run")
        again.load_checkpoint(saved)
        assert all(torch.equal(again.model.state_dict()[k], v) for k, v in after_one.items())
        history = again.fit(loader, 2, resume=resume)
        assert [row["epoch"] for row in history] == [0, 1] and again.global_step == 8
    by_path = _trainer(_model(), checkpoint_dir=tmp_path / "run")
    history = by_path.fit(loader, 2, resume=saved)
    assert [row["epoch"] for row in history] == [0, 1] and by_path.global_step == 8
    for key, value in again.model.state_dict().items():
        assert torch.equal(by_path.model.state_dict()[key], value)


# ---------------------------------------------------------------- defect 7
class FailingLoss(nn.Module):
    """Cross-entropy that raises on its ``fail_at``-th call (a Ctrl-C mid-group)."""

    def __init__(self, fail_at: int | None) -> None:
        super().__init__()
        self.calls, self.fail_at = 0, fail_at

    def forward(self, outputs, targets):
        self.calls += 1
        if self.calls == self.fail_at:
            raise Interrupt
        return nn.functional.cross_entropy(outputs, targets)


def test_interrupted_fit_leaves_the_trainer_consistent_and_fit_again_continues():
    loader = DataLoader(_data(16), batch_size=2, shuffle=True)  # 8 micro-batches, 4 steps
    reference = _trainer(_model(), accumulate=2, loss_fn=FailingLoss(None))
    reference.fit(loader, 2)

    trainer = _trainer(_model(), accumulate=2, loss_fn=FailingLoss(6))
    with pytest.raises(Interrupt):  # inside group 3, after micro-batch 5's backward
        trainer.fit(loader, 2)
    assert trainer.global_step == 2 and trainer.batch_in_epoch == 4
    assert all(p.grad is None for p in trainer.model.parameters())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no false "cannot resume" warning
        history = trainer.fit(loader, 2)
    assert [row["step"] for row in history] == [4, 8]
    for key, value in reference.model.state_dict().items():
        assert torch.equal(trainer.model.state_dict()[key], value), key
    for got, want in zip(history, reference.history, strict=True):
        assert got["loss"] == pytest.approx(want["loss"], rel=1e-12)


# ---------------------------------------------------------------- defect 9
def test_failing_load_changes_nothing(tmp_path):
    source = _trainer(_model())
    source.fit(DataLoader(_data(), batch_size=4), 1)
    path = source.save_checkpoint(tmp_path / "a.pt")
    model = _model()
    before = _weights(model)
    two_groups = torch.optim.SGD([{"params": model[0].parameters()},
                                  {"params": model[2].parameters()}], lr=0.1)
    target = _trainer(model, optimizer=two_groups)
    with pytest.raises(CheckpointError, match="does not fit"):
        target.load_checkpoint(path)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in before.items())
    assert target.global_step == 0 and target.history == []


# ---------------------------------------------------------------- defect 8
class NumpyLogs(Callback):
    def on_epoch_end(self, trainer, logs):
        logs["np_metric"] = np.float64(0.25)
        logs["np_array"] = np.arange(2)
        logs["tensor"] = torch.tensor(1.5)


def test_numpy_values_in_the_logs_become_python_numbers(tmp_path):
    trainer = _trainer(_model(), checkpoint_dir=tmp_path, callbacks=[NumpyLogs()])
    history = trainer.fit(DataLoader(_data(), batch_size=4), 2)
    assert type(history[0]["np_metric"]) is float and history[0]["np_array"] == [0, 1]
    assert type(history[1]["tensor"]) is float
    resumed = _trainer(_model(), checkpoint_dir=tmp_path)
    with pytest.warns(UserWarning, match="does nothing"):  # resumed a finished run
        assert resumed.fit(DataLoader(_data(), batch_size=4), 2)[0]["np_metric"] == 0.25


# ---------------------------------------------------------------- defect 3
class Stream(IterableDataset):
    def __init__(self, data):
        self.data = data

    def __iter__(self):
        return iter(self.data)


def test_short_last_group_of_a_loader_without_length_is_divided_by_its_size():
    data = _data(12)  # 3 batches of 4: groups of 2 and 1
    mapped, streamed = _trainer(_model(), accumulate=2), _trainer(_model(), accumulate=2)
    mapped.fit(DataLoader(data, batch_size=4), 1)
    with pytest.warns(UserWarning, match="IterableDataset"):
        streamed.fit(DataLoader(Stream(data), batch_size=4), 1)
    for key, value in mapped.model.state_dict().items():
        torch.testing.assert_close(streamed.model.state_dict()[key], value, atol=1e-6, rtol=0)
    assert streamed.history[0]["loss"] == pytest.approx(mapped.history[0]["loss"], rel=1e-6)


# ---------------------------------------------------------------- defect 6
class StopAtStep(Callback):
    def __init__(self, step):
        self.step = step

    def on_batch_end(self, trainer, logs):
        if trainer.global_step == self.step:
            raise Interrupt


def _staged(checkpoint_dir, stop=None):
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5 ** step)
    stages = StagedUnfreeze([Stage(1, ["2"], lr=0.1), Stage(None, "all", lr=0.05)])
    return _trainer(model, optimizer=optimizer, scheduler=scheduler, scheduler_step="batch",
                    checkpoint_dir=checkpoint_dir, checkpoint_every=1,
                    callbacks=[stages] + ([StopAtStep(stop)] if stop else []))


def test_staged_unfreeze_keeps_the_lr_when_resuming_inside_a_stages_first_epoch(tmp_path):
    loader = DataLoader(_data(16), batch_size=2)
    reference = _staged(tmp_path / "reference")
    reference.fit(loader, 2)
    # steps 4 and 11: mid-way through epoch 0 (stage 1) and epoch 1 (stage 2)
    for stop in (4, 11):
        with pytest.raises(Interrupt):
            _staged(tmp_path / f"run{stop}", stop=stop).fit(loader, 2)
        resumed = _staged(tmp_path / f"run{stop}")
        resumed.fit(loader, 2)
        assert resumed.optimizer.param_groups[0]["lr"] == \
            reference.optimizer.param_groups[0]["lr"]
        for key, value in reference.model.state_dict().items():
            assert torch.equal(resumed.model.state_dict()[key], value), (stop, key)


# ---------------------------------------------------------------- defect 11
def test_default_seed_leaves_the_global_generators_alone(tmp_path):
    random.seed(11)
    np.random.seed(11)  # noqa: NPY002
    python_state, numpy_state = random.getstate(), np.random.get_state()  # noqa: NPY002
    trainer = Trainer(_model(), torch.optim.SGD(_model().parameters(), lr=0.1),
                      nn.CrossEntropyLoss(), device="cpu", progress=False,
                      checkpoint_dir=tmp_path)
    assert isinstance(trainer.seed, int)
    trainer.fit(DataLoader(_data(), batch_size=4, shuffle=True), 1)
    assert random.getstate() == python_state
    assert np.array_equal(np.random.get_state()[1], numpy_state[1])  # noqa: NPY002
    resumed = Trainer(_model(), torch.optim.SGD(_model().parameters(), lr=0.1),
                      nn.CrossEntropyLoss(), device="cpu", progress=False,
                      checkpoint_dir=tmp_path)
    with pytest.warns(UserWarning, match="does nothing"):  # resumed a finished run
        resumed.fit(DataLoader(_data(), batch_size=4, shuffle=True), 1)
    assert resumed.seed == trainer.seed  # the run's seed comes from its checkpoint


def test_random_streams_are_separate():
    from histomammo.engine.sampler import EVALUATION_STREAM, stream_seed

    seeds = [stream_seed(0, stream, epoch) for stream in range(4) for epoch in range(50)]
    assert len(set(seeds)) == len(seeds)
    assert stream_seed(0, EVALUATION_STREAM) not in {stream_seed(0, 0, e) for e in range(50)}


# ---------------------------------------------------------------- defect 10
def test_notebooks_get_a_progress_bar(monkeypatch):
    from histomammo.engine import _setup

    class Kernel:
        config = {"IPKernelApp": {}}

    monkeypatch.setitem(sys.modules, "IPython",
                        types.SimpleNamespace(get_ipython=lambda: Kernel()))
    assert _setup.can_show_a_bar()
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: None))
    assert not _setup.can_show_a_bar()  # pytest's stderr is no terminal


def test_fit_again_with_the_same_total_warns():
    trainer = _trainer(_model())
    loader = DataLoader(_data(), batch_size=4)
    trainer.fit(loader, 2)
    with pytest.warns(UserWarning, match=r"does nothing: 2 epochs are done.*epochs=4"):
        assert len(trainer.fit(loader, 2)) == 2


class DictSamples(Dataset):
    def __init__(self, keys):
        self.keys, self.data = keys, _data()

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        x, y = self.data[index]
        return {self.keys[0]: x, self.keys[1]: y, "name": str(index)}


@pytest.mark.parametrize("keys", [("image", "target"), ("input", "label"), ("image", "mask")])
def test_common_dict_keys(keys):
    trainer = _trainer(_model())
    history = trainer.fit(DataLoader(DictSamples(keys), batch_size=4), 1)
    assert history[0]["step"] == 4 and history[0]["loss"] > 0


def test_other_dict_keys_need_prepare_batch():
    loader = DataLoader(DictSamples(("pixels", "y")), batch_size=4)
    with pytest.raises(ValueError, match=r"keys \['pixels', 'y', 'name'\].*prepare_batch"):
        _trainer(_model()).fit(loader, 1)
    trainer = _trainer(_model(), prepare_batch=lambda batch: (batch["pixels"], batch["y"]))
    assert trainer.fit(loader, 1)[0]["step"] == 4
    assert trainer.evaluate(loader)["loss"] > 0 and trainer.predict(loader).shape == (16, 2)
    no_targets = DataLoader(TensorDataset(torch.randn(8, 4)), batch_size=4)
    with pytest.raises(ValueError, match="hold no targets"):
        _trainer(_model()).fit(no_targets, 1)


# ---------------------------------------------------------------- defect 5
class Augmented(Dataset):
    """Random augmentation in ``__getitem__`` from torch's and numpy's global generators."""

    def __init__(self):
        self.data = _data(24)

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        x, y = self.data[index]
        noise = 0.1 * torch.randn(4) + 0.05 * float(np.random.randn())  # noqa: NPY002
        return x + noise, y


def _augmented_run(checkpoint_dir, stop=None, persistent=False):
    trainer = _trainer(_model(), seed=3, checkpoint_dir=checkpoint_dir, checkpoint_every=2,
                       callbacks=[StopAtStep(stop)] if stop else [])
    loader = DataLoader(Augmented(), batch_size=4, shuffle=True, num_workers=2,
                        persistent_workers=persistent)
    trainer.fit(loader, 2)
    return trainer


@pytest.mark.parametrize("persistent", [False, True])
def test_mid_epoch_resume_with_workers_is_bit_identical(tmp_path, persistent):
    reference = _augmented_run(None, persistent=persistent)
    with pytest.raises(Interrupt):
        _augmented_run(tmp_path, stop=9, persistent=persistent)  # after step 8's checkpoint
    resumed = _augmented_run(tmp_path, persistent=persistent)
    for key, value in reference.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), key
    assert [row["loss"] for row in resumed.history] == [row["loss"] for row in reference.history]


# ---------------------------------------------------------------- callback state_key
def test_callback_states_follow_their_state_key_not_their_position(tmp_path):
    from histomammo.engine.callbacks import BestCheckpoint, EarlyStopping

    loader = DataLoader(_data(), batch_size=4)
    stop_loss = EarlyStopping(monitor="val_loss", patience=5)
    stop_train = EarlyStopping(monitor="loss", patience=5)
    trainer = _trainer(_model(), checkpoint_dir=tmp_path,
                       callbacks=[stop_loss, stop_train, BestCheckpoint()])
    trainer.fit(loader, 2, val_loader=loader)
    reordered = [EarlyStopping(monitor="loss", patience=5), BestCheckpoint(),
                 EarlyStopping(monitor="val_loss", patience=5)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every callback finds its state
        _trainer(_model(), checkpoint_dir=tmp_path, callbacks=reordered).load_checkpoint(
            sorted(tmp_path.glob("checkpoint-*.pt"))[-1])
    assert reordered[0].best == stop_train.best and reordered[2].best == stop_loss.best
    assert reordered[1].best == stop_loss.best  # BestCheckpoint follows val_loss too

"""Trainer: learning, batch layouts, loss dicts, accumulation, clipping, AMP, schedulers."""

from __future__ import annotations

import collections
import logging
import warnings

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset
from torchvision import tv_tensors

from histomammo.engine import Trainer
from histomammo.engine._batch import batch_size, move_to_device, split_batch
from histomammo.engine._rng import capture_rng_state, restore_rng_state
from histomammo.engine.callbacks import Callback
from histomammo.errors import CheckpointError


@pytest.fixture(autouse=True)
def _keep_global_rng():
    """The trainer seeds the global generators by design; give the other tests theirs back."""
    saved = capture_rng_state()
    yield
    restore_rng_state(saved)


def _blobs(n: int = 64, seed: int = 0) -> TensorDataset:
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    features = torch.randn(n, 4, generator=generator) + 2.0 * labels[:, None]
    return TensorDataset(features, labels)


def _mlp(dropout: float = 0.0) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(dropout), nn.Linear(8, 2))


def _trainer(model, lr=0.1, **kwargs) -> Trainer:
    optimizer = kwargs.pop("optimizer", None) or torch.optim.SGD(model.parameters(), lr=lr)
    kwargs.setdefault("progress", False)
    return Trainer(model, optimizer, kwargs.pop("loss_fn", nn.CrossEntropyLoss()),
                   device="cpu", **kwargs)


def _accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    return float((outputs.argmax(1) == targets).float().mean())


def test_learns():
    loader = DataLoader(_blobs(), batch_size=8, shuffle=True)
    trainer = _trainer(_mlp())
    history = trainer.fit(loader, 8, val_loader=loader, metrics={"acc": _accuracy})
    assert history[-1]["loss"] < 0.5 * history[0]["loss"]
    assert history[-1]["val_acc"] > 0.9
    assert [row["epoch"] for row in history] == list(range(8))
    assert [row["step"] for row in history] == [8 * (e + 1) for e in range(8)]
    assert set(history[0]) == {"epoch", "step", "lr", "loss", "val_loss", "val_acc", "seconds"}
    scores = trainer.evaluate(loader, {"acc": _accuracy})
    assert scores["acc"] == history[-1]["val_acc"]
    assert scores["loss"] == pytest.approx(history[-1]["val_loss"], rel=1e-6)  # other batches
    assert trainer.predict(loader).shape == (64, 2)


def test_same_seed_same_run_other_seed_other_run():
    def run(seed):
        model = _mlp(dropout=0.5)
        _trainer(model, seed=seed).fit(DataLoader(_blobs(), batch_size=8, shuffle=True), 2)
        return model[0].weight.detach().clone()

    assert torch.equal(run(1), run(1))
    assert not torch.equal(run(1), run(2))


def test_epoch_loss_is_the_sample_weighted_mean():
    data = _blobs(10)
    model = nn.Linear(4, 2)
    trainer = _trainer(model, lr=0.0)  # weights fixed: the epoch mean is checkable
    history = trainer.fit(DataLoader(data, batch_size=4), 1)  # batches of 4, 4, 2
    expected = nn.functional.cross_entropy(model(data.tensors[0]), data.tensors[1])
    assert history[0]["loss"] == pytest.approx(expected.item(), rel=1e-6)


class _Dict2Model(nn.Module):
    """Mimics torchvision detection: loss dict in train mode, list of dicts in eval mode."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(3, 1)
        self.norm = nn.BatchNorm1d(3)

    def forward(self, images, targets=None):
        features = self.norm(torch.stack([image.mean(dim=(1, 2)) for image in images]))
        scores = self.head(features).squeeze(1)
        if self.training:
            wanted = torch.stack([t["value"] for t in targets])
            return {"loss_regression": ((scores - wanted) ** 2).mean(),
                    "loss_l1": 0.1 * scores.abs().mean()}
        return [{"score": score} for score in scores]


class _DetectionLike(Dataset):
    def __len__(self) -> int:
        return 12

    def __getitem__(self, index):
        image = tv_tensors.Image(torch.full((3, 5, 5), float(index)))
        return image, {"value": torch.tensor(index / 12.0)}


def _detection_collate(samples):
    return tuple(zip(*samples, strict=True))


def test_loss_fn_none_uses_the_models_loss_dict():
    loader = DataLoader(_DetectionLike(), batch_size=4, shuffle=True, collate_fn=_detection_collate)
    model = _Dict2Model()
    trainer = _trainer(model, lr=0.05, loss_fn=None)
    history = trainer.fit(loader, 2)
    assert {"loss", "loss_regression", "loss_l1"} <= set(history[-1])
    assert history[-1]["loss"] == pytest.approx(
        history[-1]["loss_regression"] + history[-1]["loss_l1"], rel=1e-6)
    running_mean = model.norm.running_mean.clone()
    model.train()
    scores = trainer.evaluate(loader, {"count": lambda outputs, targets: len(outputs)})
    assert torch.equal(model.norm.running_mean, running_mean)  # BatchNorm kept in eval mode
    assert scores["count"] == 12 and scores["loss"] > 0
    assert model.training and model.norm.training  # modes restored
    predictions = trainer.predict(loader)
    assert isinstance(predictions, list) and len(predictions) == 12


def test_dict_batches_and_tensors_moved():
    class Images(Dataset):
        def __len__(self):
            return 16

        def __getitem__(self, index):
            x, y = _blobs(16)[index]
            return {"image": x, "target": y, "file": f"{index}.png"}

    trainer = _trainer(_mlp())
    history = trainer.fit(DataLoader(Images(), batch_size=4, shuffle=True), 1)
    assert history[0]["step"] == 4
    Point = collections.namedtuple("Point", "x y")
    boxes = tv_tensors.BoundingBoxes(torch.zeros(1, 4), format="XYXY", canvas_size=(4, 4))
    moved = move_to_device({"b": [boxes], "p": Point(torch.ones(1), 2)}, torch.device("cpu"))
    assert isinstance(moved["b"][0], tv_tensors.BoundingBoxes) and isinstance(moved["p"], Point)
    assert split_batch({"image": 1, "target": 2}) == (1, 2)
    assert split_batch({"input": 1, "label": 2}) == (1, 2)
    assert split_batch({"image": 1, "mask": 3, "file": "a"}) == (1, 3)
    with pytest.raises(ValueError, match=r"inputs key \['image', 'input'\].*keys \['x'\]"):
        split_batch({"x": 1})
    assert split_batch({"x": 1, "y": 2}, lambda b: (b["x"], b["y"])) == (1, 2)
    assert split_batch([torch.ones(2, 3)])[1] is None
    assert batch_size((torch.ones(3, 5, 5), torch.ones(3, 5, 5))) == 2


def test_accumulation_equals_a_larger_batch():
    data = _blobs(32)

    def run(batch, accumulate):
        model = _mlp()
        _trainer(model, accumulate=accumulate).fit(DataLoader(data, batch_size=batch), 2)
        return model.state_dict()

    big, small = run(8, 1), run(4, 2)
    uneven_big, uneven_small = run(12, 1), run(4, 3)  # 32 = 12+12+8: last group has 2
    for key in big:
        torch.testing.assert_close(small[key], big[key], atol=1e-6, rtol=0)
        torch.testing.assert_close(uneven_small[key], uneven_big[key], atol=1e-6, rtol=0)


def test_grad_clip_bounds_the_step():
    model = nn.Linear(4, 2)
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    data = TensorDataset(100 * torch.randn(8, 4), torch.zeros(8, dtype=torch.long))
    _trainer(model, lr=1.0, grad_clip=1e-3).fit(DataLoader(data, batch_size=8), 1)
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert 0 < (after - before).norm() <= 1e-3 + 1e-7


def test_amp_on_cpu_warns_and_trains_identically():
    loader = DataLoader(_blobs(), batch_size=8, shuffle=True)
    plain, mixed = _mlp(0.3), _mlp(0.3)
    _trainer(plain, seed=0).fit(loader, 2)
    with pytest.warns(UserWarning, match="amp=True has no effect"):
        trainer = _trainer(mixed, amp=True, seed=0)
    assert trainer.scaler is None and trainer.autocast_dtype is None
    trainer.fit(loader, 2)
    for key, value in plain.state_dict().items():
        assert torch.equal(mixed.state_dict()[key], value)


def test_scheduler_steps_per_epoch_or_per_batch():
    loader = DataLoader(_blobs(16), batch_size=4)
    for mode, steps in (("epoch", 3), ("batch", 12)):
        model = _mlp()
        optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
        history = _trainer(model, optimizer=optimizer, scheduler=scheduler,
                           scheduler_step=mode).fit(loader, 3)
        assert optimizer.param_groups[0]["lr"] == pytest.approx(0.5 ** steps)
        assert history[0]["lr"] == pytest.approx(1.0 if mode == "epoch" else 0.5 ** 4)


def test_plateau_scheduler_gets_val_loss():
    seen = []

    class Recording(torch.optim.lr_scheduler.ReduceLROnPlateau):
        def step(self, metrics):
            seen.append(metrics)
            super().step(metrics)

    model = _mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = DataLoader(_blobs(16), batch_size=8)
    history = _trainer(model, optimizer=optimizer, scheduler=Recording(optimizer)).fit(
        loader, 2, val_loader=loader)
    assert seen == [row["val_loss"] for row in history]
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        _trainer(model, optimizer=optimizer, scheduler=Recording(optimizer),
                 scheduler_step="batch")


@pytest.mark.parametrize(("argument", "value"), [
    ("accumulate", 0), ("grad_clip", -1.0), ("scheduler_step", "step"), ("seed", -1),
    ("checkpoint_every", 0), ("keep_last", 0),
])
def test_exception(argument, value):
    with pytest.raises(ValueError, match=argument):
        _trainer(_mlp(), **{argument: value})
    with pytest.raises(ValueError, match="epochs"):
        _trainer(_mlp()).fit(DataLoader(_blobs(8)), -1)


def test_checkpoints_every_epoch_keep_last_and_history_csv(tmp_path):
    loader = DataLoader(_blobs(16), batch_size=4, shuffle=True)
    trainer = _trainer(_mlp(), checkpoint_dir=tmp_path, checkpoint_every=3, keep_last=3)
    trainer.fit(loader, 3)
    names = sorted(p.name for p in tmp_path.glob("checkpoint-*.pt"))
    # mid-epoch at steps 3, 6, 9 (not 12: the epoch-end one follows), epoch ends at 4, 8, 12
    assert names == ["checkpoint-000000008.pt", "checkpoint-000000009.pt",
                     "checkpoint-000000012.pt"]
    assert (tmp_path / "history.csv").read_text().count("\n") == 4
    with pytest.raises(CheckpointError, match="resume=True"):
        _trainer(_mlp(), checkpoint_dir=tmp_path).fit(loader, 3, resume=False)
    finished = _trainer(_mlp(), checkpoint_dir=tmp_path)
    with pytest.warns(UserWarning, match="does nothing"):  # resumed at the end
        assert finished.fit(loader, 3) == trainer.history
    assert finished.global_step == 12


def test_checkpoint_saved_in_on_epoch_end_resumes_with_the_next_epoch(tmp_path):
    class SaveAfterFirstEpoch(Callback):
        def on_epoch_end(self, trainer, logs):
            if trainer.epoch == 0:
                trainer.save_checkpoint(tmp_path / "after-epoch-0.pt")

    loader = DataLoader(_blobs(), batch_size=8, shuffle=True)
    reference = _mlp(0.3)
    _trainer(reference, callbacks=[SaveAfterFirstEpoch()]).fit(loader, 3)
    resumed_model = _mlp(0.3)
    resumed = _trainer(resumed_model, callbacks=[SaveAfterFirstEpoch()])
    resumed.load_checkpoint(tmp_path / "after-epoch-0.pt")
    history = resumed.fit(loader, 3)
    assert [row["epoch"] for row in history] == [0, 1, 2]
    for key, value in reference.state_dict().items():
        assert torch.equal(resumed_model.state_dict()[key], value)


def test_stop_training_ends_fit_and_stays_stopped(tmp_path):
    class StopAfterSecond(Callback):
        def on_epoch_end(self, trainer, logs):
            trainer.stop_training = trainer.epoch == 1

    loader = DataLoader(_blobs(16), batch_size=8)
    history = _trainer(_mlp(), checkpoint_dir=tmp_path, callbacks=[StopAfterSecond()]).fit(
        loader, 10)
    assert len(history) == 2
    again = _trainer(_mlp(), checkpoint_dir=tmp_path, callbacks=[StopAfterSecond()])
    assert len(again.fit(loader, 10)) == 2 and again.global_step == 4


def test_custom_batch_sampler_and_iterable_warn_once_and_train():
    class Stream(IterableDataset):
        def __iter__(self):
            return iter(_blobs(12))

    trainer = _trainer(_mlp(), accumulate=2)
    with pytest.warns(UserWarning, match="IterableDataset") as record:
        history = trainer.fit(DataLoader(Stream(), batch_size=4), 2)
    assert len([w for w in record if "cannot be rebuilt" in str(w.message)]) == 1
    assert history[-1]["step"] == 4  # 3 micro-batches per epoch: groups of 2 and 1
    batches = DataLoader(_blobs(8), batch_sampler=[[0, 1, 2], [3, 4, 5, 6, 7]])
    with pytest.warns(UserWarning, match="batch_sampler"):
        assert _trainer(_mlp()).fit(batches, 1)[0]["step"] == 2


def test_mid_epoch_checkpoint_of_unrebuildable_loader_restarts_the_epoch(tmp_path):
    class Stop(Exception):
        pass

    class StopAt(Callback):
        def on_batch_end(self, trainer, logs):
            if trainer.global_step == 3:
                raise Stop

    batches = DataLoader(_blobs(16), batch_sampler=[[i, i + 1] for i in range(0, 16, 2)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Stop):
            _trainer(_mlp(), checkpoint_dir=tmp_path, checkpoint_every=2,
                     callbacks=[StopAt()]).fit(batches, 1)
        resumed = _trainer(_mlp(), checkpoint_dir=tmp_path, checkpoint_every=2)
        with pytest.warns(UserWarning, match="start of the epoch"):
            resumed.fit(batches, 1)
    assert resumed.global_step == 2 + 8  # the epoch ran again in full


class RandomPerSample(Dataset):
    """Draws from torch's and numpy's global generators in ``__getitem__`` (augmentation);
    the last feature is the sample's index."""

    def __len__(self):
        return 8

    def __getitem__(self, index):
        draws = torch.cat([torch.rand(2), torch.tensor([float(np.random.rand())])])  # noqa: NPY002
        return torch.cat([draws, torch.tensor([float(index)])]), index % 2


class RecordInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 2)
        self.seen: dict[int, torch.Tensor] = {}

    def forward(self, x):
        if self.training:
            self.seen.update({int(row[-1]): row[:-1].clone() for row in x})
        return self.linear(x)


def test_workers_are_seeded_reproducibly():
    """Each sample's random draws depend on (seed, epoch, index) only: not on the worker
    that loads it, the batch it lands in, or the generators of the main process."""
    def draws(batch_size, workers, global_seed, seed=5):
        torch.manual_seed(global_seed)
        model = RecordInputs()
        loader = DataLoader(RandomPerSample(), batch_size=batch_size, shuffle=True,
                            num_workers=workers)
        _trainer(model, seed=seed).fit(loader, 1)
        return model.seen

    reference = draws(4, 2, global_seed=0)
    assert sorted(reference) == list(range(8))
    assert len({tuple(v.tolist()) for v in reference.values()}) == 8  # real draws
    for other in (draws(2, 2, global_seed=1), draws(1, 1, global_seed=2)):
        for index, value in reference.items():
            assert torch.equal(other[index], value), index
    assert not torch.equal(draws(4, 2, global_seed=0, seed=6)[0], reference[0])


def test_logs_one_line_per_epoch_without_a_terminal(caplog):
    with caplog.at_level(logging.INFO, logger="histomammo"):
        _trainer(_mlp(), progress=True).fit(DataLoader(_blobs(16), batch_size=8), 2)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("epoch")]
    assert len(lines) == 2 and "loss=" in lines[0]

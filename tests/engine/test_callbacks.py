"""Tests of histomammo.engine.callbacks: each hook against a stand-in trainer, then real fits."""

from __future__ import annotations

import csv
import math
import pickle
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torchvision
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from histomammo.engine import Trainer
from histomammo.engine import callbacks as cb
from histomammo.engine.checkpoint import checkpoint_name, latest_checkpoint
from histomammo.errors import CheckpointError, NonFiniteLossError


def fake_trainer(checkpoint_dir=None, *, model=None, optimizer=None, main=True):
    """The attributes the callback contract documents, and a save_checkpoint that records."""
    model = model if model is not None else nn.Linear(2, 1)
    trainer = SimpleNamespace(
        model=model,
        optimizer=optimizer or torch.optim.SGD(model.parameters(), lr=0.1),
        scheduler=None,
        epoch=0,
        global_step=0,
        history=[],
        checkpoint_dir=None if checkpoint_dir is None else Path(checkpoint_dir),
        is_main_process=main,
        stop_training=False,
        saved=[],
    )

    def save_checkpoint(path):
        trainer.saved.append((trainer.epoch, Path(path)))
        Path(path).write_bytes(b"checkpoint")

    trainer.save_checkpoint = save_checkpoint
    return trainer


def run_epochs(callback, trainer, values, key="val_loss"):
    """Drive on_epoch_end over one history row per value, as the trainer does."""
    for value in values:
        trainer.history.append({"epoch": trainer.epoch, key: value})
        callback.on_epoch_end(trainer, trainer.history[-1])
        if trainer.stop_training:
            return
        trainer.epoch += 1


# --- BestCheckpoint --------------------------------------------------------------------


def test_best_checkpoint_smoke(tmp_path):
    trainer = fake_trainer(tmp_path)
    best = cb.BestCheckpoint()
    best.on_fit_start(trainer)
    run_epochs(best, trainer, [3.0, 2.0, 2.0, 1.5, 4.0])
    assert trainer.saved == [
        (0, tmp_path / "best.pt"),
        (1, tmp_path / "best.pt"),
        (3, tmp_path / "best.pt"),
    ]
    assert (best.best, best.best_epoch) == (1.5, 3)


@pytest.mark.parametrize(
    ("mode", "min_delta", "values", "saved_epochs"),
    [
        ("min", 0.6, [3.0, 2.5, 2.3, 1.0], [0, 2, 3]),
        ("max", 0.0, [0.5, 0.7, 0.7, 0.6, 0.9], [0, 1, 4]),
        ("min", 0.0, [float("nan"), 2.0, float("nan")], [1]),
    ],
)
def test_best_checkpoint_mode_and_min_delta(tmp_path, mode, min_delta, values, saved_epochs):
    trainer = fake_trainer(tmp_path)
    best = cb.BestCheckpoint("val_auc", mode=mode, min_delta=min_delta)
    run_epochs(best, trainer, values, key="val_auc")
    assert [epoch for epoch, _ in trainer.saved] == saved_epochs


def test_best_checkpoint_only_main_process_writes(tmp_path):
    trainer = fake_trainer(tmp_path, main=False)
    best = cb.BestCheckpoint()
    run_epochs(best, trainer, [2.0, 1.0])
    assert trainer.saved == [] and best.best == 1.0


def test_best_checkpoint_directory(tmp_path):
    with pytest.raises(ValueError, match="checkpoint_dir"):
        cb.BestCheckpoint().on_fit_start(fake_trainer(None))
    trainer = fake_trainer(None)
    best = cb.BestCheckpoint(filename="model.pt", directory=tmp_path / "new")
    best.on_fit_start(trainer)
    run_epochs(best, trainer, [1.0])
    assert (tmp_path / "new" / "model.pt").read_bytes() == b"checkpoint"


def test_best_checkpoint_resume_keeps_best(tmp_path):
    first = cb.BestCheckpoint()
    run_epochs(first, fake_trainer(tmp_path), [2.0, 1.0])
    resumed = cb.BestCheckpoint()
    resumed.load_state_dict(first.state_dict())
    trainer = fake_trainer(tmp_path)
    trainer.epoch = 2
    run_epochs(resumed, trainer, [1.5, 0.5])
    assert trainer.saved == [(3, tmp_path / "best.pt")]


@pytest.mark.parametrize("callback", [cb.BestCheckpoint("val_dice"), cb.EarlyStopping("val_dice")])
def test_missing_monitor_exception(tmp_path, callback):
    trainer = fake_trainer(tmp_path)
    with pytest.raises(ValueError, match=r"'val_dice'.*available keys: \['epoch', 'loss'\]"):
        callback.on_epoch_end(trainer, {"epoch": 0, "loss": 1.0})


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: cb.BestCheckpoint(mode="minimum"), ValueError, "but got 'minimum'"),
        (lambda: cb.BestCheckpoint(min_delta=-1.0), ValueError, "but got -1.0"),
        (lambda: cb.BestCheckpoint(min_delta=float("nan")), ValueError, "but got nan"),
        (lambda: cb.BestCheckpoint(monitor=""), TypeError, "but got ''"),
        (lambda: cb.BestCheckpoint(filename="a/best.pt"), ValueError, "but got 'a/best.pt'"),
        (lambda: cb.BestCheckpoint(directory=3), TypeError, "but got 3"),
        (lambda: cb.EarlyStopping(patience=0), ValueError, "but got 0"),
        (lambda: cb.EarlyStopping(patience=1.5), TypeError, "but got 1.5"),
        (lambda: cb.EarlyStopping(patience=True), TypeError, "but got True"),
        (lambda: cb.CSVLogger(None), TypeError, "but got None"),
    ],
)
def test_argument_exception(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_load_state_dict_exception():
    with pytest.raises(CheckpointError, match=r"lacks \['wait'\]"):
        cb.EarlyStopping().load_state_dict({"best": 1.0, "best_epoch": 0})


# --- EarlyStopping ---------------------------------------------------------------------


def test_early_stopping_smoke():
    trainer = fake_trainer()
    stop = cb.EarlyStopping(patience=2)
    run_epochs(stop, trainer, [5.0, 4.0, 4.0, 4.5, 3.0])
    assert trainer.stop_training and trainer.epoch == 3
    assert (stop.best, stop.best_epoch, stop.wait) == (4.0, 1, 2)


def test_early_stopping_resume_counts_on():
    first, trainer = cb.EarlyStopping(patience=2, min_delta=0.1), fake_trainer()
    run_epochs(first, trainer, [5.0, 4.95])
    resumed = cb.EarlyStopping(patience=2, min_delta=0.1)
    resumed.load_state_dict(first.state_dict())
    run_epochs(resumed, trainer, [4.92])
    assert trainer.stop_training and trainer.epoch == 2


# --- CSVLogger -------------------------------------------------------------------------


def test_csv_logger_smoke(tmp_path):
    path = tmp_path / "logs" / "history.csv"
    logger, trainer = cb.CSVLogger(path), fake_trainer()
    logger.on_fit_start(trainer)
    rows = [
        {"epoch": 0, "loss": 0.1, "seconds": 1.5},
        {"epoch": 1, "loss": 1 / 3, "val_loss": 0.25, "seconds": 1.25},
    ]
    for row in rows:
        trainer.history.append(row)
        logger.on_epoch_end(trainer, row)
    row["lr_group0"] = 0.01  # added after this logger ran: the fit-end rewrite keeps it
    row["val_auc"], row["val_dice"] = torch.tensor(0.5), np.float32(0.25)
    logger.on_fit_end(trainer)
    text = path.read_text()
    assert text.splitlines()[0] == "epoch,loss,seconds,val_loss,lr_group0,val_auc,val_dice"
    read = list(csv.DictReader(text.splitlines()))
    assert read[0]["val_loss"] == "" and float(read[1]["loss"]) == 1 / 3
    assert (read[1]["lr_group0"], read[1]["val_auc"], read[1]["val_dice"]) == (
        "0.01",
        "0.5",
        "0.25",
    )
    assert [p.name for p in path.parent.iterdir()] == ["history.csv"]


def test_csv_logger_failed_write_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "history.csv"
    logger, trainer = cb.CSVLogger(path), fake_trainer()
    trainer.history.append({"epoch": 0, "loss": 1.0})
    logger.on_epoch_end(trainer, trainer.history[-1])
    before = path.read_text()
    trainer.history.append({"epoch": 1, "loss": 0.5})

    def fail(value):
        raise OSError("disk full")

    monkeypatch.setattr(cb._logging, "_csv_cell", fail)
    with pytest.raises(OSError, match="disk full"):
        logger.on_epoch_end(trainer, trainer.history[-1])
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["history.csv"]


def test_csv_logger_only_main_process_writes(tmp_path):
    trainer = fake_trainer(main=False)
    trainer.history.append({"epoch": 0})
    cb.CSVLogger(tmp_path / "h.csv").on_epoch_end(trainer, trainer.history[-1])
    assert not (tmp_path / "h.csv").exists()


# --- LRMonitor -------------------------------------------------------------------------


def test_lr_monitor_smoke():
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    optimizer = torch.optim.SGD(
        [{"params": model[0].parameters(), "lr": 0.1}, {"params": model[1].parameters()}], lr=1.0
    )
    trainer, monitor = fake_trainer(model=model, optimizer=optimizer), cb.LRMonitor()
    for step in (1, 2):
        trainer.global_step = step
        monitor.on_batch_end(trainer, {"loss": 1.0, "lr": 0.1})
        optimizer.param_groups[1]["lr"] /= 2
    logs = {"epoch": 0, "lr": 0.1}
    monitor.on_epoch_end(trainer, logs)
    assert logs == {"epoch": 0, "lr": 0.1, "lr_group0": 0.1, "lr_group1": 0.5}  # the last step's
    trainer.epoch, trainer.global_step, no_step_logs = 1, 3, {"epoch": 1}
    monitor.on_epoch_end(trainer, no_step_logs)  # an epoch without steps: the current values
    assert no_step_logs == {"epoch": 1, "lr_group0": 0.1, "lr_group1": 0.25}
    assert monitor.lrs == [
        {"step": 1, "lr_group0": 0.1, "lr_group1": 1.0},
        {"step": 2, "lr_group0": 0.1, "lr_group1": 0.5},
    ]
    restored = cb.LRMonitor()
    restored.load_state_dict(monitor.state_dict())
    assert restored.lrs == monitor.lrs


# --- Stage and StagedUnfreeze ----------------------------------------------------------


class Net(nn.Module):
    """stem (conv + bn), body (two linears), fc and fc2 heads: prefixes must not overmatch."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8))
        self.fc = nn.Linear(8, 2)
        self.fc2 = nn.Linear(8, 2)

    def forward(self, x):
        features = self.body(self.pool(self.stem(x)))
        return self.fc(features) + self.fc2(features)


@pytest.mark.parametrize(
    ("trainable", "expected"),
    [
        (["fc"], ["fc.weight", "fc.bias"]),
        (["stem.1", "fc2"], ["stem.1.weight", "stem.1.bias", "fc2.weight", "fc2.bias"]),
        (2, ["fc.weight", "fc.bias", "fc2.weight", "fc2.bias"]),
        (3, ["body.3.weight", "body.3.bias", "fc.weight", "fc.bias", "fc2.weight", "fc2.bias"]),
        (lambda name, param: param.ndim > 2, ["stem.0.weight"]),
    ],
)
def test_stage_trainable_selection(trainable, expected):
    schedule = cb.StagedUnfreeze([cb.Stage(None, trainable, lr=1e-3)])
    assert schedule.trainable_names(Net(), 0) == expected


def test_stage_all_selects_every_parameter():
    model = Net()
    schedule = cb.StagedUnfreeze([cb.Stage(None, "all", lr=1e-3)])
    assert schedule.trainable_names(model, 7) == [name for name, _ in model.named_parameters()]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"epochs": 0}, ValueError, "epochs must be an int >= 1 or None, but got 0"),
        ({"epochs": 2.0}, ValueError, "but got 2.0"),
        ({"lr": 0.0}, ValueError, "lr must be a finite number > 0, but got 0.0"),
        ({"lr": float("inf")}, ValueError, "but got inf"),
        ({"weight_decay": -0.1}, ValueError, "but got -0.1"),
        ({"trainable": "fc"}, ValueError, r"such as \['fc'\], but got 'fc'"),
        ({"trainable": 0}, ValueError, "but got 0"),
        ({"trainable": []}, TypeError, r"but got \[\]"),
        ({"trainable": ["fc", 3]}, TypeError, r"but got \['fc', 3\]"),
    ],
)
def test_stage_exception(kwargs, error, match):
    fields = {"epochs": 1, "trainable": ["fc"], "lr": 1e-3, **kwargs}
    with pytest.raises(error, match=match):
        cb.Stage(**fields)


@pytest.mark.parametrize(
    ("stages", "error", "match"),
    [
        ([], ValueError, "must not be empty"),
        (cb.Stage(1, "all", 1e-3), TypeError, "sequence of Stage"),
        ([cb.Stage(1, "all", 1e-3), {"epochs": 1}], TypeError, "every stage must be a Stage"),
        ([cb.Stage(None, ["fc"], 1e-3), cb.Stage(2, "all", 1e-4)], ValueError, r"stages \[0\]"),
    ],
)
def test_staged_unfreeze_exception(stages, error, match):
    with pytest.raises(error, match=match):
        cb.StagedUnfreeze(stages)


def test_staged_unfreeze_stage_at():
    schedule = cb.StagedUnfreeze([cb.Stage(2, ["fc"], 1e-3), cb.Stage(1, "all", 1e-4)])
    assert [schedule.stage_index(epoch) for epoch in range(5)] == [0, 0, 1, 1, 1]
    with pytest.raises(ValueError, match="but got -1"):
        schedule.stage_at(-1)


@pytest.mark.parametrize(
    ("stage", "match"),
    [
        (
            cb.Stage(None, ["fc", "head", "stem.9"], 1e-3),
            r"\['head', 'stem.9'\] match no parameter.*'fc2'",
        ),
        (cb.Stage(None, 9, 1e-3), "trainable=9 modules, but the model has only 6 "),
        (cb.Stage(None, lambda name, param: False, 1e-3), "selects no parameter"),
        (cb.Stage(None, ["body"], 1e-3), r"trains \['body.1.weight'.*the optimizer does not hold"),
    ],
)
def test_staged_unfreeze_fit_start_exception(stage, match):
    model = Net()
    optimizer = torch.optim.SGD([*model.fc.parameters(), *model.stem.parameters()], lr=0.1)
    trainer = fake_trainer(model=model, optimizer=optimizer)
    with pytest.raises(ValueError, match=match):
        cb.StagedUnfreeze([stage]).on_fit_start(trainer)


def test_staged_unfreeze_sets_requires_grad_and_hyperparameters():
    model = Net()
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.5, weight_decay=0.5)
    trainer = fake_trainer(model=model, optimizer=optimizer)
    schedule = cb.StagedUnfreeze(
        [cb.Stage(1, ["fc"], 1e-4, weight_decay=0.001), cb.Stage(None, "all", 1e-5, 0.01)]
    )
    schedule.on_fit_start(trainer)
    for param in model.parameters():
        param.grad = torch.ones_like(param)
    schedule.on_epoch_start(trainer, 0)
    trains = {name for name, param in model.named_parameters() if param.requires_grad}
    assert trains == {"fc.weight", "fc.bias"}
    assert model.stem[0].weight.grad is None and model.fc.weight.grad is not None
    assert optimizer.param_groups[0]["lr"] == 1e-4
    assert optimizer.param_groups[0]["weight_decay"] == 0.001
    optimizer.param_groups[0]["lr"] = 3e-5  # a scheduler inside stage 1 ...
    schedule.on_epoch_start(trainer, 1)
    assert all(param.requires_grad for param in model.parameters())
    assert optimizer.param_groups[0]["weight_decay"] == 0.01
    optimizer.param_groups[0]["lr"] = 7e-6  # ... keeps its value after the stage began
    schedule.on_epoch_start(trainer, 2)
    assert optimizer.param_groups[0]["lr"] == 7e-6


# --- NaNGuard --------------------------------------------------------------------------


def test_nan_guard_smoke(tmp_path):
    trainer = fake_trainer(tmp_path)
    for step in (10, 20):
        (tmp_path / checkpoint_name(step)).write_bytes(b"")
    trainer.epoch, trainer.global_step = 2, 23
    guard = cb.NaNGuard()
    guard.on_batch_end(trainer, {"loss": 0.5, "loss_box": 0.25, "lr": 0.1})
    logs = {"loss": math.nan, "loss_box": math.inf, "loss_cls": 0.125, "lr": 0.1}
    with pytest.raises(NonFiniteLossError) as info:
        guard.on_batch_end(trainer, logs)
    message = str(info.value)
    assert "epoch 2, global step 23" in message
    assert "loss=nan, loss_box=inf, loss_cls=0.125;" in message
    assert str(tmp_path / checkpoint_name(20)) in message
    assert isinstance(info.value, FloatingPointError)


@pytest.mark.parametrize(
    ("has_dir", "match"), [(False, "checkpoint_dir is None"), (True, "no checkpoint in")]
)
def test_nan_guard_without_checkpoint(tmp_path, has_dir, match):
    trainer = fake_trainer(tmp_path if has_dir else None)
    with pytest.raises(NonFiniteLossError, match=match):
        cb.NaNGuard().on_batch_end(trainer, {"loss": -math.inf})


def test_nan_guard_exception():
    with pytest.raises(ValueError, match=r"no 'loss'; available keys: \['lr'\]"):
        cb.NaNGuard().on_batch_end(fake_trainer(), {"lr": 0.1})


# --- every callback --------------------------------------------------------------------


def _module_level_selector(name, param):
    return name.startswith("fc")


@pytest.mark.parametrize(
    "callback",
    [
        cb.BestCheckpoint("val_auc", "max", min_delta=0.01, directory="/tmp/x"),
        cb.EarlyStopping(patience=3),
        cb.CSVLogger("history.csv"),
        cb.LRMonitor(),
        cb.StagedUnfreeze([cb.Stage(2, _module_level_selector, 1e-3), cb.Stage(None, "all", 1e-4)]),
        cb.NaNGuard(),
    ],
    ids=lambda callback: type(callback).__name__,
)
def test_pickle_round_trip(callback):
    if isinstance(callback, cb.EarlyStopping):
        run_epochs(callback, fake_trainer(), [2.0, 1.0, 1.5])
    copy = pickle.loads(pickle.dumps(callback))
    assert type(copy) is type(callback)
    assert vars(copy).keys() == vars(callback).keys()
    assert copy.state_dict() == callback.state_dict()


# --- real fits with histomammo.engine.Trainer ------------------------------------------


def regression_loader(count=32, batch_size=8, seed=0):
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(count, 4, generator=generator)
    targets = inputs @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
    return DataLoader(TensorDataset(inputs, targets), batch_size=batch_size, shuffle=True)


def image_loader(count=8, batch_size=4, classes=10):
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(count, 3, 32, 32, generator=generator)
    labels = torch.randint(0, classes, (count,), generator=generator)
    return DataLoader(TensorDataset(images, labels), batch_size=batch_size, shuffle=True)


class ParameterRecorder(cb.Callback):
    """Copies of every parameter before fit and after each epoch."""

    def __init__(self):
        self.snapshots = []

    def _snapshot(self, trainer):
        return {name: p.detach().clone() for name, p in trainer.model.named_parameters()}

    def on_fit_start(self, trainer):
        self.snapshots.append(self._snapshot(trainer))

    def on_epoch_end(self, trainer, logs):
        self.snapshots.append(self._snapshot(trainer))


def changed_names(before, after):
    return {name for name in before if not torch.equal(before[name], after[name])}


def test_fit_with_best_checkpoint_early_stopping_and_lr_monitor(tmp_path):
    torch.manual_seed(0)
    model = nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.02)
    best, stop, monitor, recorder = (
        cb.BestCheckpoint(),
        cb.EarlyStopping(patience=2),
        cb.LRMonitor(),
        ParameterRecorder(),
    )
    trainer = Trainer(
        model,
        optimizer,
        nn.MSELoss(),
        scheduler=torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5),
        checkpoint_dir=tmp_path,
        callbacks=[best, stop, monitor, recorder],
        progress=False,
    )
    history = trainer.fit(regression_loader(), 4, val_loader=regression_loader(seed=1))
    val_losses = [row["val_loss"] for row in history]
    assert best.best == min(val_losses) and best.best_epoch == val_losses.index(min(val_losses))
    lrs = [0.02, 0.01, 0.005, 0.0025]
    assert [row["lr_group0"] for row in history] == [row["lr"] for row in history] == lrs
    assert [row["step"] for row in monitor.lrs] == list(range(1, 17))
    reloaded = Trainer(nn.Linear(4, 1), torch.optim.SGD(model.parameters(), lr=0.1), progress=False)
    reloaded.load_checkpoint(tmp_path / "best.pt")
    expected = recorder.snapshots[1 + best.best_epoch]
    assert all(torch.equal(p, expected[n]) for n, p in reloaded.model.named_parameters())
    rows = list(csv.DictReader((tmp_path / "history.csv").open()))
    assert len(rows) == 4 and float(rows[3]["lr_group0"]) == 0.0025


def test_early_stopping_ends_fit_and_resume_restores_state(tmp_path):
    model = nn.Linear(4, 1)
    # lr=0: val_loss never improves after epoch 0 (beyond summation-order rounding)
    still = torch.optim.SGD(model.parameters(), lr=0.0)
    stop = cb.EarlyStopping(patience=3, min_delta=1e-4)
    trainer = Trainer(
        model, still, nn.MSELoss(), checkpoint_dir=tmp_path, callbacks=[stop], progress=False
    )
    assert len(trainer.fit(regression_loader(), 2, val_loader=regression_loader())) == 2
    assert stop.wait == 1
    resumed_stop = cb.EarlyStopping(patience=3, min_delta=1e-4)
    resumed = Trainer(
        model,
        still,
        nn.MSELoss(),
        checkpoint_dir=tmp_path,
        callbacks=[resumed_stop],
        progress=False,
    )
    history = resumed.fit(regression_loader(), 10, val_loader=regression_loader())
    assert len(history) == 4 and resumed_stop.wait == 3 and resumed.stop_training


def test_staged_unfreeze_three_stages_on_resnet18():
    model = torchvision.models.resnet18(weights=None)
    schedule = cb.StagedUnfreeze(
        [
            cb.Stage(epochs=1, trainable=["fc"], lr=1e-3),
            cb.Stage(epochs=1, trainable=["layer4", "fc"], lr=1e-4),
            cb.Stage(epochs=None, trainable="all", lr=1e-5),
        ]
    )
    recorder = ParameterRecorder()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    trainer = Trainer(
        model, optimizer, nn.CrossEntropyLoss(), callbacks=[schedule, recorder], progress=False
    )
    history = trainer.fit(image_loader(), 3)
    names = set(recorder.snapshots[0])
    layer4_fc = {n for n in names if n.startswith(("layer4.", "fc."))}
    snaps = recorder.snapshots
    assert changed_names(snaps[0], snaps[1]) == {"fc.weight", "fc.bias"}
    assert changed_names(snaps[1], snaps[2]) == layer4_fc
    assert changed_names(snaps[2], snaps[3]) == names
    assert [row["lr"] for row in history] == [1e-3, 1e-4, 1e-5]


def test_staged_unfreeze_two_stages_with_weight_decay():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.Linear(8, 1))
    schedule = cb.StagedUnfreeze(
        [
            cb.Stage(epochs=2, trainable=2, lr=1e-4, weight_decay=0.001),
            cb.Stage(epochs=1, trainable="all", lr=1e-5, weight_decay=0.01),
        ]
    )
    recorder = ParameterRecorder()
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    trainer = Trainer(
        model, optimizer, nn.MSELoss(), callbacks=[schedule, recorder], progress=False
    )
    trainer.fit(regression_loader(), 3)
    snaps, top = recorder.snapshots, {"2.weight", "2.bias", "3.weight", "3.bias"}
    assert changed_names(snaps[0], snaps[2]) == top
    assert changed_names(snaps[2], snaps[3]) == set(snaps[0])
    assert optimizer.param_groups[0]["weight_decay"] == 0.01


def test_staged_unfreeze_refrozen_parameters_stay_put_under_adam():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    schedule = cb.StagedUnfreeze([cb.Stage(1, ["0"], 1e-2), cb.Stage(None, ["2"], 1e-2)])
    recorder = ParameterRecorder()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1, weight_decay=0.1)
    trainer = Trainer(
        model, optimizer, nn.MSELoss(), callbacks=[schedule, recorder], progress=False
    )
    trainer.fit(regression_loader(), 2)
    snaps = recorder.snapshots
    assert changed_names(snaps[0], snaps[1]) == {"0.weight", "0.bias"}
    assert changed_names(snaps[1], snaps[2]) == {"2.weight", "2.bias"}


class NaNFromStep:
    """Mean squared error that turns NaN from the ``bad_step``-th call on."""

    def __init__(self, bad_step):
        self.bad_step, self.calls = bad_step, 0

    def __call__(self, outputs, targets):
        self.calls += 1
        loss = nn.functional.mse_loss(outputs, targets)
        return loss * math.nan if self.calls >= self.bad_step else loss


def test_nan_guard_keeps_last_checkpoint_good(tmp_path):
    model = nn.Linear(4, 1)
    trainer = Trainer(
        model,
        torch.optim.SGD(model.parameters(), lr=0.01),
        NaNFromStep(bad_step=4),
        checkpoint_dir=tmp_path,
        checkpoint_every=2,
        callbacks=[cb.NaNGuard()],
        progress=False,
    )
    with pytest.raises(NonFiniteLossError, match="epoch 0, global step 4") as info:
        trainer.fit(regression_loader(), 2)
    assert not torch.isfinite(model.weight).all()  # the bad step did update the weights ...
    newest = latest_checkpoint(tmp_path)  # ... but never reached the disk
    assert newest.name == checkpoint_name(2) and str(newest) in str(info.value)
    restored = Trainer(
        nn.Linear(4, 1), torch.optim.SGD(model.parameters(), lr=0.01), progress=False
    )
    restored.load_checkpoint(newest)
    assert all(torch.isfinite(p).all() for p in restored.model.parameters())

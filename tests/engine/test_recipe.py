"""Recipe and Trainer.from_recipe: one type for a training schedule, built exactly as by hand."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from histomammo.engine import Recipe, Trainer, fit_recipe
from histomammo.engine._rng import capture_rng_state, restore_rng_state
from histomammo.engine.callbacks import BestCheckpoint, LRMonitor


@pytest.fixture(autouse=True)
def _own_rng():
    saved = capture_rng_state()  # trainers with a seed seed the global generators by design
    yield
    restore_rng_state(saved)


def _data(n=48):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, generator=generator)
    return TensorDataset(x, (x[:, 0] > 0).long())


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Dropout(0.1),
                               torch.nn.Linear(8, 2))


def test_from_recipe_trains_bit_for_bit_as_a_hand_built_trainer():
    recipe = Recipe(partial(torch.optim.SGD, lr=0.1, momentum=0.9), torch.nn.CrossEntropyLoss(),
                    epochs=3, batch_size=8,
                    scheduler=partial(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.5))
    by_recipe = Trainer.from_recipe(_model(), recipe, device="cpu", seed=5, progress=False)
    by_recipe.fit(DataLoader(_data(), batch_size=recipe.batch_size, shuffle=True),
                  recipe.epochs)
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    by_hand = Trainer(model, optimizer, torch.nn.CrossEntropyLoss(),
                      scheduler=torch.optim.lr_scheduler.StepLR(optimizer, 1, gamma=0.5),
                      device="cpu", seed=5, progress=False)
    by_hand.fit(DataLoader(_data(), batch_size=8, shuffle=True), 3)
    for (name, a), (_, b) in zip(by_recipe.model.state_dict().items(),
                                 by_hand.model.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert [row["loss"] for row in by_recipe.history] == [row["loss"] for row in by_hand.history]
    assert [row["lr"] for row in by_recipe.history] == [0.1, 0.05, 0.025]


def test_factories_take_the_model_or_its_trainable_parameters():
    model = _model()
    model[0].weight.requires_grad_(False)
    by_class = Recipe(partial(torch.optim.Adam, lr=1e-3)).build_optimizer(model)
    assert len(by_class.param_groups[0]["params"]) == 3  # the frozen weight left out
    everything = Recipe(lambda m: torch.optim.SGD(m.parameters(), lr=1.0))
    assert len(everything.build_optimizer(model).param_groups[0]["params"]) == 4
    assert Recipe(partial(torch.optim.SGD, lr=0.5), batch_size=4).eval_batch_size == 4


def test_multi_phase_runs_each_phase_with_a_fresh_optimizer(tmp_path):
    phases = [
        Recipe(partial(torch.optim.SGD, lr=0.1), torch.nn.CrossEntropyLoss(), epochs=2,
               batch_size=16, name="sgd"),
        Recipe(partial(torch.optim.Adam, lr=1e-3), torch.nn.CrossEntropyLoss(), epochs=1,
               batch_size=48, eval_batch_size=12, name="adam", callbacks=[LRMonitor()]),
    ]
    recipe = Recipe(phases=phases, name="two")
    assert recipe.total_epochs == 3 and recipe.stages() == tuple(phases)
    rows = fit_recipe(_model(), recipe, _data(), _data(12), checkpoint_dir=tmp_path,
                      device="cpu", progress=False)
    assert [(r["phase"], r["epoch"], r["step"], r["lr"]) for r in rows] == [
        (1, 0, 3, 0.1), (1, 1, 6, 0.1), (2, 0, 1, 1e-3)]
    assert all("val_loss" in row for row in rows)
    assert (tmp_path / "phase1" / "history.csv").exists()
    assert (tmp_path / "phase2" / "history.csv").exists()
    # a single phase of it builds a trainer with that phase's optimizer and callbacks
    trainer = Trainer.from_recipe(_model(), recipe, phase=1, device="cpu", progress=False)
    assert isinstance(trainer.optimizer, torch.optim.Adam)
    assert isinstance(trainer.callbacks[0], LRMonitor)


def test_fit_recipe_resumes_in_its_phase(tmp_path):
    recipe = Recipe(phases=[
        Recipe(partial(torch.optim.SGD, lr=0.1), torch.nn.CrossEntropyLoss(), epochs=2,
               batch_size=16),
        Recipe(partial(torch.optim.SGD, lr=0.01), torch.nn.CrossEntropyLoss(), epochs=2,
               batch_size=16),
    ])
    reference = fit_recipe(_model(), recipe, _data(), device="cpu", progress=False)
    first = recipe.replace(phases=[recipe.phases[0], recipe.phases[1].replace(epochs=1)])
    model = _model()
    fit_recipe(model, first, _data(), checkpoint_dir=tmp_path, device="cpu", progress=False)
    with pytest.warns(UserWarning, match="does nothing"):  # phase 1 is done already
        resumed = fit_recipe(model, recipe, _data(), checkpoint_dir=tmp_path, device="cpu",
                             progress=False)
    assert [row["loss"] for row in resumed] == [row["loss"] for row in reference]


def test_overrides_replace_what_the_recipe_gives():
    best = BestCheckpoint(monitor="val_loss")
    recipe = Recipe(partial(torch.optim.SGD, lr=0.1), torch.nn.CrossEntropyLoss(),
                    scheduler=partial(torch.optim.lr_scheduler.StepLR, step_size=1),
                    callbacks=[best], amp=False, grad_clip=1.0)
    model = _model()
    adam = torch.optim.Adam(model.parameters(), lr=1e-4)
    trainer = Trainer.from_recipe(model, recipe, optimizer=adam, callbacks=[], grad_clip=None,
                                  loss_fn=torch.nn.MSELoss(), device="cpu", seed=1,
                                  progress=False)
    assert trainer.optimizer is adam and trainer.scheduler.optimizer is adam
    assert trainer.callbacks == [] and trainer.grad_clip is None and trainer.seed == 1
    assert isinstance(trainer.loss_fn, torch.nn.MSELoss)
    plain = Trainer.from_recipe(_model(), recipe, device="cpu", progress=False)
    assert plain.callbacks == [best] and plain.grad_clip == 1.0
    with pytest.raises(TypeError, match=r"\['epochs'\] are not Trainer arguments"):
        Trainer.from_recipe(_model(), recipe, epochs=3)


@pytest.mark.parametrize(("fields", "error", "message"), [
    ({}, TypeError, "optimizer must be a callable"),
    ({"optimizer": "sgd"}, TypeError, "optimizer must be a callable"),
    ({"epochs": -1}, ValueError, "epochs must be an int >= 0, but got -1"),
    ({"epochs": 2.5}, ValueError, "epochs must be an int"),
    ({"batch_size": 0}, ValueError, "batch_size must be an int >= 1"),
    ({"scheduler_step": "step"}, ValueError, r"scheduler_step must be one of \('epoch', 'batch'\)"),
    ({"callbacks": [print]}, TypeError, "callbacks must be histomammo.engine.callbacks.Callback"),
    ({"loss": 3}, TypeError, "loss must be a callable"),
    ({"grad_clip": 0.0}, ValueError, "grad_clip must be > 0"),
])
def test_a_bad_recipe_says_what_is_wrong(fields, error, message):
    base = {"optimizer": partial(torch.optim.SGD, lr=0.1)}
    if "optimizer" in fields or not fields:
        base.pop("optimizer")
    with pytest.raises(error, match=message):
        Recipe(**{**base, **fields}, name="mine")
    with pytest.raises(error, match="Recipe 'mine'"):
        Recipe(**{**base, **fields}, name="mine")


def test_bad_phases_and_bad_factories():
    one = Recipe(partial(torch.optim.SGD, lr=0.1), epochs=1)
    with pytest.raises(ValueError, match=r"also sets \['epochs'\]"):
        Recipe(phases=[one], epochs=5)
    with pytest.raises(TypeError, match="phase 1 must be a Recipe"):
        Recipe(phases=[one, {"epochs": 1}])
    with pytest.raises(ValueError, match="phases do not nest"):
        Recipe(phases=[Recipe(phases=[one])])
    two = Recipe(phases=[one, one], name="two")
    with pytest.raises(ValueError, match="'two' has 2 phases.*phase=i"):
        Trainer.from_recipe(_model(), two, device="cpu")
    with pytest.raises(ValueError, match=r"phase must be an int in \[0, 2\)"):
        Trainer.from_recipe(_model(), two, phase=2, device="cpu")
    with pytest.raises(TypeError, match="must return a torch.optim.Optimizer, but returned list"):
        Recipe(lambda model: list(model.parameters())).build_optimizer(_model())
    with pytest.raises(TypeError, match="recipe must be a histomammo.engine.Recipe"):
        Trainer.from_recipe(_model(), {"optimizer": None})
    with pytest.raises(TypeError, match="recipe must be a histomammo.engine.Recipe"):
        fit_recipe(_model(), None, _data())

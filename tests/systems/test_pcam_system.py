"""PCam recipes: the seed's hyper-parameters exactly, the tumour-probability metrics, and a
small P4M G-CNN that learns synthetic PCam in seconds with the engine."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader

from histomammo.datasets import PCam
from histomammo.datasets.synthetic import make_pcam
from histomammo.engine import Trainer
from histomammo.models.allconv import AllConvNet
from histomammo.models.equivariant import GCNN
from histomammo.systems import pcam
from histomammo.systems.pcam import patch_transform


def _built(recipe, model=None):
    """The trainer the recipe builds: its optimizer, first param group and scheduler."""
    trainer = Trainer.from_recipe(model or torch.nn.Linear(2, 2), recipe, device="cpu",
                                  progress=False)
    return trainer.optimizer, trainer.optimizer.param_groups[0], trainer.scheduler


def test_seed_hyper_parameters():
    model = torch.nn.Linear(2, 2)
    run1 = pcam.inception_run1(model)
    optimizer, g, scheduler = _built(run1)
    assert (type(optimizer).__name__, g["lr"], g["momentum"], g["eps"], g["weight_decay"]) \
        == ("RMSprop", 0.1, 0.9, 1.0, 0.9)
    assert (scheduler.step_size, scheduler.gamma, run1.epochs, run1.batch_size) \
        == (4, 0.16, 24, 64)
    run2 = pcam.recipe("inception_run2", model)
    assert _built(run2)[1]["nesterov"] and run2.extras["augmentation"] == "inception_run2"
    allcnn = pcam.all_cnn(model)
    _, g, scheduler = _built(allcnn)
    assert (g["eps"], g["momentum"], g["weight_decay"], allcnn.scheduler_step) \
        == (1e-7, 0.9, 0.9, "batch")
    assert scheduler.total_size == 4000 and allcnn.extras["augmentation"] == "all_cnn"
    assert [round(lr, 6) for lr in (scheduler.base_lrs[0], scheduler.max_lrs[0])] \
        == [0.001, 0.1]
    final = pcam.recipe("gcnn_final", model)
    optimizer, g, scheduler = _built(final)
    assert (type(optimizer).__name__, g["lr"], g["weight_decay"]) == ("Adam", 0.05, 0)
    assert (scheduler.step_size, scheduler.gamma, final.epochs) == (20, 0.1, 100)
    assert (final.batch_size, final.eval_batch_size, final.loss.reduction) == (64, 128, "sum")
    assert final.extras["augmentation"] == "none"
    with pytest.raises(ValueError, match="the PCam recipes are"):
        pcam.recipe("gcnn", model)


def test_frozen_parameters_are_left_out():
    model = AllConvNet(widths=(1,) * 6)
    for p in model.layers[0].parameters():
        p.requires_grad = False
    params = _built(pcam.inception_run1(model), model)[1]["params"]
    assert len(params) == len(list(model.parameters())) - 2


def test_score_is_the_tumour_probability_not_the_max():
    # confident normals (score ~0) and confident tumours (~1): max-probability scoring (the
    # seed's) gives both ~1 and an AUC near 0.5; the tumour probability separates them
    logits = torch.tensor([[5.0, -5.0], [4.0, -4.0], [-4.0, 4.0], [-5.0, 5.0]])
    labels = torch.tensor([0, 0, 1, 1])
    metrics = pcam.pcam_metrics()
    assert metrics["auc"](logits, labels) == 1.0 and metrics["accuracy"](logits, labels) == 1.0
    from histomammo.metrics.classification import roc_auc

    assert roc_auc(torch.softmax(logits, 1).max(1).values, labels) == 0.5


def test_docs_engine_example_gives_the_recipes_auc():
    """docs/engine.md's ``Trainer(..., metrics={"auc": roc_auc})`` and the PCam recipe's metric
    give the same AUC on a trained two-logit model's outputs (issue 20: the engine example once
    scored column 1 of the logits)."""
    from torch.utils.data import DataLoader, TensorDataset

    from histomammo.engine import Trainer
    from histomammo.metrics import roc_auc

    generator = torch.Generator().manual_seed(0)
    x = torch.randn(96, 8, generator=generator)
    y = (x[:, 0] + 0.7 * torch.randn(96, generator=generator) > 0).long()
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    trainer = Trainer(model, torch.optim.Adam(model.parameters(), lr=1e-2),
                      torch.nn.CrossEntropyLoss(), seed=0, progress=False)
    loader = DataLoader(TensorDataset(x, y), batch_size=32)
    trainer.fit(loader, epochs=5)
    docs = trainer.evaluate(loader, metrics={"auc": roc_auc})["auc"]
    recipe = trainer.evaluate(loader, metrics=pcam.pcam_metrics())["auc"]
    with torch.no_grad():
        logits = model(x)
    column_one = roc_auc(logits[:, 1].numpy(), y.numpy())  # the old, wrong reading
    assert docs == recipe == roc_auc(torch.softmax(logits, 1)[:, 1].numpy(), y.numpy())
    assert abs(docs - column_one) > 1e-3


def test_published_numbers():
    table = {row["model"]: row for row in pcam.PUBLISHED}
    assert table["Inception v3 transfer, run 1"]["accuracy"] == 81.49
    assert table["Inception v3 transfer, run 2"]["auc"] == 0.85
    assert table["P4M-DenseNet (Veeling et al. 2018)"]["auc"] == 0.96
    assert all(row["source"].startswith("seeds/pcam_gcnn.txt") for row in pcam.PUBLISHED)


@pytest.fixture(scope="module")
def synthetic_pcam(tmp_path_factory):
    root = tmp_path_factory.mktemp("pcam")
    return make_pcam(root, {"train": 128, "test": 128}, splits=["train", "test"], seed=0,
                     progress=False)


def test_learns(synthetic_pcam):
    # a small P4M G-CNN, patches downscaled to 32x32 for the CPU (still exactly equivariant:
    # 28 and 10 pixels meet the poolings), three epochs with the engine: held-out AUC >= 0.9
    transform = patch_transform(mean=(0.5,) * 3, std=(0.25,) * 3, size=32)
    train = DataLoader(PCam(synthetic_pcam, "train", transform=transform), batch_size=32,
                       shuffle=True)
    test = DataLoader(PCam(synthetic_pcam, "test", transform=transform), batch_size=128)
    torch.manual_seed(0)
    model = GCNN("p4m", widths=(2, 4, 4), hidden=32)
    recipe = pcam.gcnn_learning(model, epochs=3, lr=3e-3)
    trainer = Trainer.from_recipe(model, recipe, device="cpu", progress=False, seed=0)
    before = trainer.evaluate(test, metrics=pcam.pcam_metrics())
    trainer.fit(train, recipe.epochs)
    after = trainer.evaluate(test, metrics=pcam.pcam_metrics())
    assert after["auc"] >= 0.9, (before, after)
    assert after["loss"] < before["loss"]


@pytest.fixture(scope="module")
def synthetic_pcam_256(tmp_path_factory):
    root = tmp_path_factory.mktemp("pcam256")
    return make_pcam(root, {"train": 256, "test": 128}, splits=["train", "test"], seed=1,
                     progress=False)


def test_all_cnn_learning_recipe_learns(synthetic_pcam_256, one_thread):
    # the seed's All-CNN layer by layer at widths 4-24 on 96x96 patches (it needs >= 94),
    # trained with all_cnn_learning (Adam 2e-3, dropout off while training) for 4 epochs on
    # 256 synthetic patches in batches of 16, without augmentation (for speed): held-out
    # AUC >= 0.95 and the test loss well below the untrained 0.69 (an untrained net already
    # ranks these patches at AUC ~0.7, so the loss is the proof); a fresh model has the seed's
    # dropouts
    transform = patch_transform(mean=(0.5,) * 3, std=(0.25,) * 3)
    train = DataLoader(PCam(synthetic_pcam_256, "train", transform=transform), batch_size=16,
                       shuffle=True)
    test = DataLoader(PCam(synthetic_pcam_256, "test", transform=transform), batch_size=128)
    torch.manual_seed(0)
    model = AllConvNet(widths=(4, 8, 12, 16, 20, 24))
    recipe = pcam.all_cnn_learning(model, epochs=4, lr=2e-3)
    assert recipe.extras["augmentation"] == "all_cnn" and recipe.scheduler is None
    assert {m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)} == {0.0}
    trainer = Trainer.from_recipe(model, recipe, device="cpu", progress=False, seed=0)
    before = trainer.evaluate(test, metrics=pcam.pcam_metrics())
    trainer.fit(train, recipe.epochs)
    after = trainer.evaluate(test, metrics=pcam.pcam_metrics())
    assert after["auc"] >= 0.95 and after["loss"] < 0.5, (before, after)
    fresh = [m.p for m in AllConvNet(widths=(1,) * 6).modules() if isinstance(m, torch.nn.Dropout)]
    assert max(fresh) == 0.5


def test_all_cnn_learning_scales_the_first_seen_rates_without_compounding():
    model = AllConvNet(widths=(1,) * 6)
    seed_rates = [m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    pcam.all_cnn_learning(model, dropout_scale=0.5)
    pcam.all_cnn_learning(model, dropout_scale=0.5)  # a second run: still half, not a quarter
    assert [m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)] == [
        p * 0.5 for p in seed_rates]
    pcam.all_cnn_learning(model, dropout_scale=1.0)
    assert [m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)] == seed_rates

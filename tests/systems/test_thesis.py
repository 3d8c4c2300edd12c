"""The thesis's recipe and oversampling that the engine's exact resume still covers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from histomammo.engine import Trainer
from histomammo.engine._rng import capture_rng_state, restore_rng_state
from histomammo.engine.callbacks import Callback
from histomammo.systems.thesis import (
    THESIS_EPOCHS,
    THESIS_TABLE_6_3,
    THESIS_TABLE_6_4,
    oversample,
    recipe,
    thesis_recipe,
)


@pytest.fixture(autouse=True)
def _own_rng():
    saved = capture_rng_state()  # the trainer seeds the global generators by design
    yield
    restore_rng_state(saved)


def test_recipe_is_the_thesis():
    model = torch.nn.Linear(4, 2)
    alexnet = thesis_recipe("alexnet")
    optimizer = alexnet.build_optimizer(model)
    assert isinstance(optimizer, torch.optim.SGD)
    defaults = optimizer.defaults
    assert (defaults["lr"], defaults["momentum"], defaults["weight_decay"]) == (0.01, 0, 0)
    assert isinstance(alexnet.loss, torch.nn.CrossEntropyLoss)
    assert alexnet.epochs == 80 and THESIS_EPOCHS["resnet"] == 40
    assert recipe("view_check", model).epochs == 10
    assert thesis_recipe(epochs=40).epochs == 40
    assert isinstance(thesis_recipe(optimizer="adam").build_optimizer(model), torch.optim.Adam)
    (best,) = alexnet.callbacks
    assert (best.monitor, best.mode) == ("val_loss", "min")
    with pytest.raises(ValueError, match="network must be"):
        thesis_recipe("vgg")


def test_oversample_counts():
    labels = torch.tensor([0, 0, 1, 0, 1, 0])
    subset = oversample(TensorDataset(torch.arange(6)), labels.numpy(), factor=4)
    taken = [int(subset[i][0]) for i in range(len(subset))]
    assert len(taken) == 6 + 2 * 3
    assert taken.count(2) == taken.count(4) == 4 and taken.count(0) == 1
    with pytest.raises(ValueError, match="labels must have shape"):
        oversample(TensorDataset(torch.arange(6)), [0, 1])


class _StopAt(Callback):
    def __init__(self, step):
        self.step = step

    def on_batch_end(self, trainer, *args, **kwargs):
        if trainer.global_step == self.step:
            raise KeyboardInterrupt


def _trainer(directory, callbacks=()):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Dropout(0.2),
                                torch.nn.Linear(8, 2))
    return Trainer.from_recipe(model, thesis_recipe(epochs=3), device="cpu", seed=3,
                               checkpoint_dir=directory, checkpoint_every=1, progress=False,
                               callbacks=list(callbacks))


def test_oversampled_training_resumes_exactly_mid_epoch(tmp_path):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(40, 3, generator=generator)
    y = (torch.rand(40, generator=generator) < 0.2).long()
    loader = DataLoader(oversample(TensorDataset(x, y), y.numpy(), factor=3), batch_size=8,
                        shuffle=True)
    reference = _trainer(None)
    reference.fit(loader, epochs=3)
    with pytest.raises(KeyboardInterrupt):
        _trainer(tmp_path, [_StopAt(13)]).fit(loader, epochs=3)  # mid-epoch 2 of 3
    resumed = _trainer(tmp_path, [_StopAt(-1)])  # same callbacks as the stopped run
    resumed.fit(loader, epochs=3)
    for key, value in reference.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), key


def test_published_tables_are_the_thesis():
    assert THESIS_TABLE_6_3[("resnet", 40)]["test_auc"] == 0.76
    assert THESIS_TABLE_6_3[("alexnet", 80)]["test_threshold_accuracy"] == 0.317
    assert THESIS_TABLE_6_4["resnet"]["mean"] == {"auc": 0.79, "specificity": 0.331}
    # the baseline of table 6.4 is table 6.3's test AUC and test specificity
    for network, epochs in (("alexnet", 80), ("alexnet_large", 80), ("reduced_resnet", 40)):
        assert np.isclose(THESIS_TABLE_6_4[network]["baseline"]["auc"],
                          THESIS_TABLE_6_3[(network, epochs)]["test_auc"])


def test_oversample_needs_a_dataset_with_a_length():
    class Stream(torch.utils.data.Dataset):
        def __getitem__(self, index):
            return index

    with pytest.raises(TypeError, match="oversample needs a dataset with a length; got Stream"):
        oversample(Stream(), [0, 1])

"""The thesis's CC-vs-MLO pipeline check (section 6.2) and the marker ablation, in seconds.

1. With the markers removed by the thesis's preprocessing, a small ``alexnet_grey`` trained
   with the thesis's recipe (plain SGD at 0.01, randomly initialised) tells CC from MLO
   above 99% on held-out mammograms after ONE epoch: the anatomy (the MLO view's pectoral
   muscle) carries the view.
2. The marker ablation: every image drawn with CC anatomy, so that only the burned-in view
   text tells the views apart. Kept (no marker removal), the marker gives the view away;
   removed by the preprocessing, the same training is at chance.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from histomammo.datasets.synthetic import screening_mammogram
from histomammo.engine import Trainer
from histomammo.models import create_model
from histomammo.systems.thesis import thesis_recipe
from histomammo.transforms.mammo import preprocess_crop, preprocess_naive

SHAPE = (192, 160)  # synthetic full field; the network sees SIZE
SIZE = (128, 104)


pytestmark = pytest.mark.usefixtures("one_thread_own_rng")


def _views(n, seed, anatomy=None):
    """``n`` raw mammograms alternating CC / MLO, random side and pathology; label 1 = MLO."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        side = "LR"[int(rng.integers(2))]
        case = screening_mammogram(SHAPE, rng, laterality=side, view=("CC", "MLO")[i % 2],
                                   bits_stored=14, malignant=bool(rng.integers(2)),
                                   anatomy=anatomy)
        cases.append((case.pixels, side))
    return cases, torch.arange(n) % 2


def _tensor(images):
    return torch.from_numpy(np.stack(images).astype(np.float32) / (2**14 - 1))[:, None]


def _accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(dim=1) == y).float().mean())


def _train(x, y, optimizer, batch_size, epochs=1, seed=0):
    torch.manual_seed(seed)
    model = create_model("alexnet_grey", input_size=tuple(x.shape[-2:]), width=0.25,
                         fc_size=256)
    recipe = thesis_recipe("view_check", epochs=epochs,
                           optimizer="adam" if optimizer == "adam" else "sgd")
    # no validation set here: the recipe's best-validation-loss snapshot is left out
    trainer = Trainer.from_recipe(model, recipe, callbacks=[], device="cpu", seed=seed,
                                  progress=False)
    trainer.fit(DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True),
                epochs=recipe.epochs)
    return model


def test_view_check_passes_in_one_epoch_with_the_thesis_recipe():
    (train, y_train), (test, y_test) = _views(800, seed=0), _views(200, seed=1)
    x_train = _tensor([preprocess_crop(p, out_size=SIZE) for p, _ in train])
    x_test = _tensor([preprocess_crop(p, out_size=SIZE) for p, _ in test])
    mean = float(x_train.mean())  # the training-set mean grey, as the example subtracts
    model = _train(x_train - mean, y_train, "thesis", batch_size=8)
    accuracy = _accuracy(model, x_test - mean, y_test)
    assert accuracy > 0.99, accuracy


def _naive(cases, markers):
    return _tensor([preprocess_naive(p, laterality=side, factor=1, out_shape=SIZE,
                                     marker_method="saturated" if markers == "removed" else None)
                    for p, side in cases])


def test_markers_alone_give_the_view_away_unless_removed():
    # CC anatomy for every image: the marker text ("LCC" / "LMLO") is the only view cue.
    # The naive preprocessing keeps the whole field, marker corner included (the crop cuts
    # it off with the background), here area-resized from 192x160 to 128x104. Adam, because
    # a few-pixel text takes plain SGD at 0.01 many epochs to find: the point is what the
    # pixels carry, not the recipe. Two epochs: one suffices for some initialisations only.
    (train, y_train), (test, y_test) = _views(480, 2, "CC"), _views(160, 3, "CC")
    accuracy = {}
    for markers in ("kept", "removed"):
        x_train, x_test = _naive(train, markers), _naive(test, markers)
        mean = float(x_train.mean())
        model = _train(x_train - mean, y_train, "adam", batch_size=16, epochs=2)
        accuracy[markers] = _accuracy(model, x_test - mean, y_test)
    assert accuracy["kept"] >= 0.95 and abs(accuracy["removed"] - 0.5) <= 0.1, accuracy

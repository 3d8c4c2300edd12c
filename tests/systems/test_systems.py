"""Every paper module: lazy, complete (each public name resolves), a ``recipe`` that returns an
``engine.Recipe``, published numbers with their source; nothing else imports systems."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from histomammo import systems
from histomammo.engine import Recipe

PAPERS = ["thesis", "shen", "pcam", "glas", "brecahad"]


def test_import_histomammo_does_not_load_systems():
    code = ("import sys, histomammo; assert 'histomammo.systems' not in sys.modules; "
            "histomammo.systems.glas.unet_recipe; assert 'histomammo.systems.glas' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("paper", PAPERS)
def test_every_public_name_resolves(paper):
    module = getattr(systems, paper)
    assert "recipe" in module.__all__
    for name in module.__all__:
        assert getattr(module, name) is not None, name


@pytest.mark.parametrize(("paper", "name", "epochs"), [
    ("thesis", "resnet", 40),
    ("shen", "patch", 50),
    ("pcam", "gcnn_final", 100),
    ("glas", "unet", 950),
    ("brecahad", "paper", 100),
])
def test_recipe_by_name_is_a_recipe(paper, name, epochs):
    from histomammo.models.vgg import VGG16GAP

    model = VGG16GAP(width=0.125) if paper == "shen" else torch.nn.Linear(2, 2)
    recipe = getattr(systems, paper).recipe(name, model)
    assert isinstance(recipe, Recipe) and recipe.total_epochs == epochs
    for stage in recipe.stages():
        assert isinstance(stage.build_optimizer(model), torch.optim.Optimizer)
    with pytest.raises(ValueError, match="got 'no such recipe'"):
        getattr(systems, paper).recipe("no such recipe", model)


def test_published_numbers_carry_their_source():
    assert systems.thesis.PUBLISHED["table_6_3"][("resnet", 40)]["test_auc"] == 0.76
    assert "tables 6.3 and 6.4" in systems.thesis.PUBLISHED["source"]
    assert systems.brecahad.PUBLISHED["tpr_lowest_threshold"] == 0.9902
    assert systems.brecahad.PUBLISHED["source"].startswith("seeds/brecahad_faster_rcnn.txt")
    assert all(row["source"].startswith("seeds/pcam_gcnn.txt") for row in systems.pcam.PUBLISHED)
    assert systems.glas.PAPER_TEST_LOSS_AND_COUNT["DTU-UNET"]["count"] == {"A": 0.211, "B": 0.127}
    assert [e.name for e in systems.glas.GLAS2015_LEADERBOARD][:2] == ["DTU-MASKRCNN",
                                                                      "CUMedVision2"]

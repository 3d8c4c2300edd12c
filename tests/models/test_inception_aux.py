"""Inception v3 fine-tuned at 299x299 with the auxiliary classifier on (seed section 3.2.2.3).

At 299x299 the training-mode output is ``InceptionOutputs(logits, aux_logits)``; the recipe's
loss (``histomammo.models.inception_loss``, aux weight 0.4) combines the two, and
the engine's ``Trainer`` hands it that tuple unchanged. These tests check that the aux head is
really trained through the Trainer: its gradients, its weights and its own held-out scores.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from histomammo.datasets.synthetic import make_pcam
from histomammo.engine import Trainer
from histomammo.models import calibrate_batchnorm, create_model
from histomammo.systems import pcam

SIDE = 299  # the seed's Inception input; the aux head needs it (a 17x17 Mixed_6e map)


def _fine_tune_recipe(model, epochs):
    """The example's ``inception_finetune`` recipe: run 1's loss, Adam 1e-4, no scheduler."""
    return pcam.adam_variant(pcam.inception_run1, model, epochs=epochs, lr=1e-4)


def test_one_trainer_step_at_299_trains_both_heads(tmp_path, one_thread_own_rng,
                                                   inception_patches):
    # one optimizer step of two synthetic patches at 299x299: the loss is finite and both
    # classifiers (fc, AuxLogits.fc) get non-zero gradients and move
    root = make_pcam(tmp_path, {"train": 2}, splits=["train"], seed=0, progress=False)
    images, labels = inception_patches(root, "train", SIDE)
    assert images.shape == (2, 3, SIDE, SIDE) and sorted(labels.tolist()) == [0, 1]
    torch.manual_seed(0)
    model = create_model("inception_v3_transfer", freeze_backbone=False, aux_logits=True)
    heads = {"fc": model.fc.weight, "AuxLogits.fc": model.AuxLogits.fc.weight}
    before = {name: weight.detach().clone() for name, weight in heads.items()}
    grads = {}
    for name, weight in heads.items():
        weight.register_hook(lambda grad, name=name: grads.__setitem__(name, grad.clone()))
    recipe = _fine_tune_recipe(model, epochs=1)
    trainer = Trainer.from_recipe(model, recipe, device="cpu", progress=False, seed=0)
    history = trainer.fit(DataLoader(TensorDataset(images, labels), batch_size=2),
                          recipe.epochs)
    assert trainer.global_step == 1 and math.isfinite(history[0]["loss"])
    assert set(grads) == set(heads)
    for name, grad in grads.items():
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0, name
        assert not torch.equal(heads[name].detach(), before[name]), name


@pytest.mark.slow
def test_fine_tuning_at_299_with_the_aux_head_learns(tmp_path, one_thread_own_rng,
                                                     inception_patches):
    # What is tested: the whole random network (freeze_backbone=False, aux head on), its
    # BatchNorm statistics calibrated (the aux head's too: 96 layers), trained with the
    # engine for 3 epochs of 4 batches of 16 synthetic patches at 299x299 (the example's
    # inception_finetune recipe: Adam 1e-4, inception_loss) separates held-out patches
    # through both heads. Measured (about 130 s on one core): training loss 0.88, 0.42, 0.22
    # per epoch (logits CE + 0.4 aux CE: about 0.97 at chance); held-out AUC 0.11 before
    # training (random features, inverted), 0.96 after; the aux head's AUC 1.0.
    root = make_pcam(tmp_path, {"train": 64, "test": 64}, splits=["train", "test"], seed=0,
                     progress=False)
    x_train, y_train = inception_patches(root, "train", SIDE)
    x_test, y_test = inception_patches(root, "test", SIDE)
    torch.manual_seed(0)
    model = create_model("inception_v3_transfer", freeze_backbone=False, aux_logits=True)
    assert calibrate_batchnorm(model, DataLoader(TensorDataset(x_train, y_train),
                                                 batch_size=32)) == 96
    aux_before = {name: p.detach().clone() for name, p in model.AuxLogits.named_parameters()}
    recipe = _fine_tune_recipe(model, epochs=3)
    trainer = Trainer.from_recipe(model, recipe, device="cpu", progress=False, seed=0)
    history = trainer.fit(DataLoader(TensorDataset(x_train, y_train), batch_size=16,
                                     shuffle=True), recipe.epochs)
    losses = [row["loss"] for row in history]
    assert losses[-1] < 0.5 < losses[0], losses
    for name, p in model.AuxLogits.named_parameters():  # Adam skips a parameter without grad
        assert not torch.equal(p.detach(), aux_before[name]), name

    aux_logits = []  # eval mode skips the aux head: run it on Mixed_6e's output, as training did
    hook = model.Mixed_6e.register_forward_hook(
        lambda module, inputs, output: aux_logits.append(model.AuxLogits(output)))
    scores = trainer.evaluate(DataLoader(TensorDataset(x_test, y_test), batch_size=32),
                              metrics=pcam.pcam_metrics())
    hook.remove()
    assert scores["auc"] >= 0.85, scores
    aux_auc = pcam.pcam_metrics()["auc"](torch.cat(aux_logits), y_test)
    assert aux_auc >= 0.85, aux_auc

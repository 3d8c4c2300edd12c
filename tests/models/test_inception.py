"""inception_v3_transfer: both classifiers replaced, backbone frozen, weights from a path."""

from __future__ import annotations

import pytest
import torch
from torchvision.models.inception import InceptionOutputs

from histomammo.models import calibrate_batchnorm, create_model
from histomammo.models.inception import inception_loss


@pytest.fixture(scope="module")
def model():
    return create_model("inception_v3_transfer")


def test_heads_replaced_and_backbone_frozen(model):
    assert model.fc.out_features == 2 and model.AuxLogits.fc.out_features == 2
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"fc.weight", "fc.bias", "AuxLogits.fc.weight", "AuxLogits.fc.bias"}
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == 2 * 2048 + 2 + 2 * 768 + 2


def test_loss_on_training_outputs(model):
    # the replaced aux head on its 17x17 input (what a 299x299 image gives), and the loss
    model.train()
    aux = model.AuxLogits(torch.rand(2, 768, 17, 17))
    logits = model.fc(torch.rand(2, 2048))
    targets = torch.tensor([0, 1])
    loss = inception_loss(InceptionOutputs(logits, aux), targets)
    expected = (torch.nn.functional.cross_entropy(logits, targets)
                + 0.4 * torch.nn.functional.cross_entropy(aux, targets))
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert model.fc.weight.grad is not None and model.AuxLogits.conv0.conv.weight.grad is None
    model.eval()
    assert model(torch.rand(1, 3, 80, 80)).shape == (1, 2)  # 75 is the smallest input


@pytest.mark.slow
def test_training_forward_at_299(model):
    model.train()
    out = model(torch.rand(2, 3, 299, 299))
    assert out.logits.shape == out.aux_logits.shape == (2, 2)
    inception_loss(out, torch.tensor([0, 1])).backward()


def test_weights_from_imagenet_file_then_heads_replaced(tmp_path, model):
    imagenet = create_model("inception_v3_transfer", num_classes=1000, freeze_backbone=False)
    torch.save(imagenet.state_dict(), tmp_path / "imagenet.pt")
    transfer = create_model("inception_v3_transfer", weights=tmp_path / "imagenet.pt")
    assert torch.equal(transfer.Mixed_7c.branch1x1.conv.weight,
                       imagenet.Mixed_7c.branch1x1.conv.weight)
    assert transfer.fc.out_features == 2
    transfer.train()  # a loaded, frozen backbone keeps its batch-norm statistics
    assert not transfer.Mixed_5b.branch1x1.bn.training and transfer.fc.training


def test_random_frozen_backbone_learns_once_batchnorm_is_calibrated(tmp_path, one_thread,
                                                                   inception_patches):
    # What is tested: without ImageNet weights, (1) the uncalibrated random backbone gives
    # every patch the same score (eval-mode BatchNorm with running stats 0/1: activations
    # ~1e6, a saturated softmax); (2) after calibrate_batchnorm the frozen backbone is a fixed
    # random-feature extractor and the trainable head, trained with the engine and the
    # Adam variant of run 1's recipe (20 epochs) on its pooled features of 128 synthetic
    # patches, separates held-out patches through the whole model: AUC >= 0.85. Patches are
    # resized to 80 (not 299) for the CPU; eval mode skips the aux head, which needs ~299.
    from torch.utils.data import DataLoader, TensorDataset

    from histomammo.datasets.synthetic import make_pcam
    from histomammo.engine import Trainer
    from histomammo.systems import pcam

    root = make_pcam(tmp_path, {"train": 128, "test": 128}, splits=["train", "test"], seed=1,
                     progress=False)
    x_train, y_train = inception_patches(root, "train", 80)
    x_test, y_test = inception_patches(root, "test", 80)
    torch.manual_seed(0)
    model = create_model("inception_v3_transfer").eval()
    with torch.no_grad():
        assert model(x_test[:16]).softmax(1)[:, 1].std() < 1e-6
    assert calibrate_batchnorm(model, x_train[:64]) == 94
    features = {}
    model.avgpool.register_forward_hook(lambda m, i, o: features.__setitem__("x", o.flatten(1)))
    with torch.no_grad():
        model(x_train)
    recipe = pcam.adam_variant(pcam.inception_run1, model.fc, epochs=20)
    trainer = Trainer.from_recipe(model.fc, recipe, device="cpu", progress=False, seed=0)
    trainer.fit(DataLoader(TensorDataset(features["x"], y_train), batch_size=32, shuffle=True),
                recipe.epochs)
    with torch.no_grad():
        logits = model.eval()(x_test)
    assert pcam.pcam_metrics()["auc"](logits, y_test) >= 0.85
    assert not model.train().Mixed_6e.branch1x1.bn.training  # the statistics stay fixed


def test_calibration_needs_a_batch(model):
    with pytest.raises(ValueError, match="at least one batch"):
        calibrate_batchnorm(model, [])


def test_calibration_includes_the_aux_classifier_at_299(model, one_thread):
    calibrated = create_model("inception_v3_transfer")
    torch.manual_seed(0)
    assert calibrate_batchnorm(calibrated, torch.rand(2, 3, 299, 299)) == 96
    assert float(calibrated.AuxLogits.conv0.bn.running_var.mean()) != 1.0
    # the caller's train mode is restored (a probe of the aux head used to leave it in eval)
    assert calibrated.training and calibrated.AuxLogits.training
    assert not calibrated.Mixed_6e.branch1x1.bn.training  # frozen norms now stay in eval


@pytest.mark.slow
def test_fine_tuning_a_random_backbone_learns(tmp_path, one_thread, inception_patches):
    # freeze_backbone=False, BatchNorm calibrated, Adam 1e-4, 4 epochs on 128 synthetic
    # patches at 80x80 (about 30 s on one core): held-out AUC >= 0.85
    from torch.utils.data import DataLoader, TensorDataset

    from histomammo.datasets.synthetic import make_pcam
    from histomammo.engine import Trainer
    from histomammo.systems import pcam

    root = make_pcam(tmp_path, {"train": 128, "test": 128}, splits=["train", "test"], seed=0,
                     progress=False)
    x_train, y_train = inception_patches(root, "train", 80)
    x_test, y_test = inception_patches(root, "test", 80)
    torch.manual_seed(0)
    model = create_model("inception_v3_transfer", freeze_backbone=False, aux_logits=False)
    calibrate_batchnorm(model, x_train[:64])
    recipe = pcam.adam_variant(pcam.inception_run1, model, epochs=4, lr=1e-4)
    trainer = Trainer.from_recipe(model, recipe, device="cpu", progress=False, seed=0)
    trainer.fit(DataLoader(TensorDataset(x_train, y_train), batch_size=32, shuffle=True),
                recipe.epochs)
    scores = trainer.evaluate(DataLoader(TensorDataset(x_test, y_test), batch_size=64),
                              metrics=pcam.pcam_metrics())
    assert scores["auc"] >= 0.85, scores

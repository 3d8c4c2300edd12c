"""inception_v3_transfer: both classifiers replaced, backbone frozen, weights from a path."""

from __future__ import annotations

import pytest
import torch
from torchvision.models.inception import InceptionOutputs

from histomammo.models import create_model
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

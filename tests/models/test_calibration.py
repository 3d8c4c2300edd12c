"""calibrate_batchnorm: both algorithms, the caller's modes restored in every path, devices."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchvision.ops import FrozenBatchNorm2d

from histomammo.models import calibrate_batchnorm


def _running_net() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.5),
                         nn.Conv2d(4, 4, 3), nn.BatchNorm2d(4))


class _Detector(nn.Module):
    """Takes a list of (C, H, W) images, as torchvision's detectors do."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, 4, 3), FrozenBatchNorm2d(4), nn.ReLU(),
                                 nn.Conv2d(4, 4, 3), FrozenBatchNorm2d(4))

    def forward(self, images: list[torch.Tensor]) -> torch.Tensor:
        return self.net(torch.stack(images))


def test_running_statistics_are_the_exact_average_over_batches():
    net = _running_net()
    batches = [torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(i)) * 3 + 1
               for i in range(3)]
    loader = DataLoader(TensorDataset(torch.cat(batches), torch.zeros(12)), batch_size=4)
    assert calibrate_batchnorm(net, loader) == 2  # [images, labels] lists, as loaders give
    # the first norm's input does not depend on calibration: its mean is known exactly
    with torch.no_grad():
        means = torch.stack([net[0](b).mean(dim=(0, 2, 3)) for b in batches])
    torch.testing.assert_close(net[1].running_mean, means.mean(0))
    assert net[1].momentum == 0.1 and int(net[1].num_batches_tracked) == 3


def test_frozen_statistics_normalise_a_detector():
    model = _Detector()
    again = copy.deepcopy(model)
    images = [torch.rand(3, 16, 16) * 10 for _ in range(4)]
    assert calibrate_batchnorm(model, images) == 2  # "auto" finds the frozen norms
    # the same from detection batches: (images, targets) pairs as collate functions give
    pairs = [(tuple(images[:2]), ({}, {})), (tuple(images[2:]), ({}, {}))]
    assert calibrate_batchnorm(again, pairs) == 2
    torch.testing.assert_close(again.net[4].running_var, model.net[4].running_var)
    with torch.no_grad():
        out = model(images)
    assert abs(float(out.mean())) < 1e-4 and abs(float(out.std()) - 1) < 0.05


@pytest.mark.parametrize("training", [True, False])
def test_every_modules_mode_is_restored(training):
    net = _running_net().train(training)
    net[3].train(not training)  # a mixed state, as a partly frozen model has
    modes = [m.training for m in net.modules()]
    calibrate_batchnorm(net, torch.randn(2, 3, 8, 8))
    assert [m.training for m in net.modules()] == modes


def test_modes_and_statistics_restored_when_the_forward_fails():
    net = _running_net().train()
    net[1].running_mean.fill_(0.25)
    with pytest.raises(RuntimeError):
        calibrate_batchnorm(net, torch.randn(2, 5, 8, 8))  # 5 channels: the conv refuses
    assert all(m.training for m in net.modules())
    assert torch.equal(net[1].running_mean, torch.full((4,), 0.25)) and net[1].momentum == 0.1
    frozen = _Detector().eval()
    with pytest.raises(RuntimeError):
        calibrate_batchnorm(frozen, [torch.rand(5, 8, 8)])
    assert not any(m.training for m in frozen.modules())


class _Recorder(nn.Module):
    """Records the device of its input (a BatchNorm with momentum=None cannot run on meta)."""

    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(3)
        self.devices: list[torch.device] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.devices.append(x.device)
        return x


def test_images_follow_the_models_device():
    # on the meta device a CPU tensor meeting the model raises a device mismatch
    with torch.device("meta"):
        detector, recorder = _Detector(), _Recorder()
    with pytest.raises((RuntimeError, NotImplementedError)):
        detector([torch.zeros(3, 8, 8)])
    assert calibrate_batchnorm(detector, [torch.zeros(3, 8, 8)]) == 2
    assert calibrate_batchnorm(recorder, [torch.zeros(2, 3, 8, 8)] * 2) == 0  # norm not run
    assert recorder.devices == [torch.device("meta")] * 2


def test_exceptions():
    with pytest.raises(ValueError, match="at least one batch"):
        calibrate_batchnorm(_running_net(), [])
    with pytest.raises(ValueError, match="method must be one of"):
        calibrate_batchnorm(_running_net(), torch.zeros(1, 3, 8, 8), method="lsuv")
    with pytest.raises(ValueError, match="no FrozenBatchNorm2d"):
        calibrate_batchnorm(_running_net(), torch.zeros(1, 3, 8, 8), method="frozen")
    with pytest.raises(ValueError, match="no BatchNorm"):
        calibrate_batchnorm(nn.Conv2d(3, 3, 1), torch.zeros(1, 3, 8, 8))
    with pytest.raises(TypeError, match="must be an nn.Module"):
        calibrate_batchnorm(lambda x: x, torch.zeros(1, 3, 8, 8))

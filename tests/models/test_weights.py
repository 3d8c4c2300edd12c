"""The one weights loader: state dicts and Trainer checkpoints, adaptations, typed errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torchvision.ops import FrozenBatchNorm2d

from histomammo.errors import CheckpointError, MissingFileError
from histomammo.models import load_weights, read_state_dict


def _net(classes: int = 2, in_channels: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, 4, 3), nn.BatchNorm2d(4), nn.Flatten(),
                         nn.Linear(4 * 6 * 6, classes))


def test_state_dict_file_and_trainer_checkpoint(tmp_path):
    source = _net()
    torch.save(source.state_dict(), tmp_path / "plain.pt")
    # a histomammo Trainer checkpoint: the model's state under "model", beside other state
    torch.save({"model": source.state_dict(), "optimizer": {"state": {}, "param_groups": []},
                "epoch": 3, "history": [{"loss": 0.5}]}, tmp_path / "checkpoint.pt")
    for name in ("plain.pt", "checkpoint.pt"):
        target = load_weights(_net(), tmp_path / name)
        for (key, a), b in zip(target.state_dict().items(), source.state_dict().values(),
                               strict=True):
            assert torch.equal(a, b), key


def test_typed_errors_name_the_file(tmp_path):
    with pytest.raises(MissingFileError, match="absent.pt: no such file"):
        load_weights(_net(), tmp_path / "absent.pt")
    (tmp_path / "garbled.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="garbled.pt: cannot be loaded safely"):
        load_weights(_net(), tmp_path / "garbled.pt")
    torch.save({"layers": [1, 2]}, tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="list.pt: holds a dict"):
        read_state_dict(tmp_path / "list.pt")
    torch.save(_net(classes=5).state_dict(), tmp_path / "five.pt")
    target = _net()
    before = target[3].weight.clone()
    with pytest.raises(CheckpointError, match=r"five.pt: does not fit Sequential.*wrong shape"):
        load_weights(target, tmp_path / "five.pt")
    assert torch.equal(target[3].weight, before)  # nothing loaded


def test_unsafe_pickles_are_refused(tmp_path):
    torch.save({"model": _net()}, tmp_path / "pickled_module.pt")  # a whole module, not tensors
    with pytest.raises(CheckpointError, match="pickled_module.pt: cannot be loaded safely"):
        load_weights(_net(), tmp_path / "pickled_module.pt")


def test_greyscale_stem_replaced_head_and_ignored_entries(tmp_path):
    rgb = _net(classes=1000)
    state = {**rgb.state_dict(), "aux.weight": torch.zeros(1)}
    grey = load_weights(_net(classes=2, in_channels=1), state, stem="0.weight", head=("3",),
                        ignore=("aux",))
    assert torch.equal(grey[0].weight, rgb[0].weight.sum(1, keepdim=True))
    assert grey[3].out_features == 2  # the new head kept
    with pytest.raises(CheckpointError, match=r"unexpected \['aux.weight'\]"):
        load_weights(_net(classes=2, in_channels=1), state, stem="0.weight", head=("3",))


def test_batchnorm_files_load_into_frozen_batchnorm():
    # an ImageNet file's num_batches_tracked has no place in FrozenBatchNorm2d
    source = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    source[1].running_mean.fill_(0.5)
    frozen = load_weights(nn.Sequential(nn.Conv2d(3, 4, 3), FrozenBatchNorm2d(4)),
                          source.state_dict())
    assert torch.equal(frozen[1].running_mean, torch.full((4,), 0.5))
    assert load_weights(frozen, None) is frozen


@pytest.mark.parametrize("name,kwargs,side", [
    ("gcnn", dict(widths=(1, 1, 1), hidden=4), 32),
    ("p4m_densenet", dict(growth=1, layers_per_block=1), 32),
    ("all_gconv_net", dict(widths=(1,) * 6), 94),
])
def test_equivariant_weights_load_whatever_the_mode(name, kwargs, side, tmp_path):
    # e2cnn caches the expanded filter in eval mode only: a checkpoint saved while training
    # must load into a fresh model, and loading into an eval-mode model must rebuild its cache
    from histomammo.models import create_model

    torch.manual_seed(0)
    source = create_model(name, **kwargs).train()
    torch.save({"model": source.state_dict()}, tmp_path / "training.pt")
    assert source.state_dict().keys() == source.eval().state_dict().keys()
    x = torch.randn(2, 3, side, side)
    target = create_model(name, **kwargs).eval()
    with torch.no_grad():
        stale = target(x)
        load_weights(target, tmp_path / "training.pt")
        torch.testing.assert_close(target(x), source(x), rtol=0, atol=0)
        assert not torch.equal(target(x), stale)
    target.train()
    target.load_state_dict(source.state_dict())  # strict, across modes

"""Batch-norm statistics from data for networks without pretrained statistics.

A network built without pretrained weights has batch norms with the initial statistics (mean 0,
variance 1): in eval mode (or frozen) they normalise nothing, and a deep random network's
activations explode (Inception v3's reach ~1e6 by ``Mixed_7c``; a random ResNet-50's grow ~50x
by ``layer4``). [`calibrate_batchnorm`][histomammo.models.calibration.calibrate_batchnorm]
estimates them from a few training images, a data-dependent initialisation (as LSUV) that
changes no weight, by one of two algorithms:

* ``"running"`` (``nn.BatchNorm*`` layers): every norm normalises with its batch's statistics
  and accumulates their exact average over all batches (``momentum=None``); the rest of the
  model runs in eval mode (no dropout). Streams any number of batches.
* ``"frozen"`` (torchvision's ``FrozenBatchNorm2d``, which has no running statistics to
  accumulate): one eval-mode forward pass over all the images together, in which each frozen
  norm, reached in order, takes the per-channel mean and variance of its input (weight 1,
  bias 0), so it normalises what the already-calibrated layers before it produce.

Both move the images to the model's device and restore every module's train/eval mode.
A model whose forward skips a branch in eval mode (Inception's auxiliary classifier) may name
it in a ``calibration_branches()`` method returning ``[(module, branch), ...]``: ``branch`` is
called on ``module``'s output during the pass, so its norms are calibrated too; a norm that saw
no data keeps its statistics. A model with an ``on_calibrated()`` method has it called last.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import nn
from torchvision.ops import FrozenBatchNorm2d

__all__ = ["CALIBRATION_METHODS", "calibrate_batchnorm"]

#: The values of ``method``.
CALIBRATION_METHODS = ("auto", "running", "frozen")

Batch = torch.Tensor | Sequence[torch.Tensor]


def _device(model: nn.Module) -> torch.device:
    for tensor in itertools.chain(model.parameters(), model.buffers()):
        return tensor.device
    return torch.device("cpu")


def _to(batch: Batch, device: torch.device) -> Batch:
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    return [image.to(device) for image in batch]


def _is_image_list(value: Any) -> bool:
    return (isinstance(value, (list, tuple)) and len(value) > 0
            and all(isinstance(v, torch.Tensor) and v.ndim == 3 for v in value))


def _batches(batches: Any) -> Iterator[Batch]:
    """One batch per item: a tensor, a list of ``(C, H, W)`` images, or the images of an
    ``(images, targets)`` pair (a ``DataLoader`` gives pairs as lists)."""
    if isinstance(batches, torch.Tensor) or _is_image_list(batches):
        yield batches  # one batch
        return
    for batch in batches:
        if not isinstance(batch, torch.Tensor) and not _is_image_list(batch):
            if not (isinstance(batch, (list, tuple)) and len(batch) == 2):
                raise TypeError(f"a calibration batch must be a tensor, a list of (C, H, W) "
                                f"images or an (images, targets) pair, but got "
                                f"{type(batch).__name__}")
            batch = batch[0]
        yield list(batch) if isinstance(batch, tuple) else batch


def _branch_hooks(model: nn.Module) -> list[Any]:
    branches: Callable[[], list[tuple[nn.Module, Callable[[Any], Any]]]] | None = getattr(
        model, "calibration_branches", None)
    hooks = []
    for module, run in branches() if branches is not None else []:
        def hook(_module: nn.Module, _inputs: Any, output: Any, run: Any = run) -> None:
            run(output)  # returns None: the module's own output goes on unchanged

        hooks.append(module.register_forward_hook(hook))
    return hooks


def _calibrate_running(model: nn.Module, stream: Iterator[Batch], device: torch.device) -> int:
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        raise ValueError(f"{type(model).__name__} has no BatchNorm layer to calibrate "
                         "(method='running')")
    saved = [(m.momentum, {k: v.clone() for k, v in m.state_dict().items()
                           if not k.endswith(("weight", "bias"))}) for m in norms]
    model.eval()  # no dropout; the norms alone use batch statistics
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
        norm.train()
    seen: set[nn.Module] = set()  # norms that saw data (no device sync, works on meta)
    hooks = _branch_hooks(model) + [
        norm.register_forward_pre_hook(lambda module, _inputs: seen.add(module)) for norm in norms]
    try:
        for batch in stream:  # lazily: a loader may be long
            model(_to(batch, device))
    except BaseException:
        seen.clear()  # a failed pass: every norm gets its statistics back
        raise
    finally:
        for hook in hooks:
            hook.remove()
        for norm, (momentum, stats) in zip(norms, saved, strict=True):
            norm.momentum = momentum
            if norm not in seen:  # saw no data: keep its statistics
                norm.load_state_dict({**norm.state_dict(), **stats})
    return len(seen)


def _calibrate_frozen(model: nn.Module, stream: Iterator[Batch], device: torch.device) -> int:
    norms = [m for m in model.modules() if isinstance(m, FrozenBatchNorm2d)]
    if not norms:
        raise ValueError(f"{type(model).__name__} has no FrozenBatchNorm2d layer to calibrate "
                         "(method='frozen')")
    batches = list(stream)
    tensors = [b for b in batches if isinstance(b, torch.Tensor)]
    if len(tensors) == len(batches):
        images: Batch = torch.cat([b.to(device) for b in tensors])
    else:
        images = [image.to(device) for batch in batches for image in batch]

    def calibrate(module: FrozenBatchNorm2d, inputs: tuple[torch.Tensor]) -> None:
        x = inputs[0].transpose(0, 1).reshape(inputs[0].shape[1], -1)
        x = x.float() if x.device.type == "mps" else x.double()  # MPS has no float64
        module.running_mean.copy_(x.mean(dim=1))
        module.running_var.copy_(x.var(dim=1, unbiased=False).clamp_min(module.eps))
        module.weight.fill_(1.0)
        module.bias.fill_(0.0)

    handles = [norm.register_forward_pre_hook(calibrate) for norm in norms]
    model.eval()
    try:
        model(images)
    finally:
        for handle in handles:
            handle.remove()
    return len(norms)


@torch.no_grad()
def calibrate_batchnorm(model: nn.Module, batches: Any, *, method: str = "auto") -> int:
    """Set the batch-norm statistics of ``model`` to those of ``batches``, in place.

    See the module notes for the two algorithms. Do not call it on a model loaded with
    pretrained weights: those carry their own statistics.

    Parameters
    ----------
    model : nn.Module
        E.g. [`inception_v3_transfer`][histomammo.models.inception.inception_v3_transfer]
        (``"running"``) or [`fasterrcnn_brecahad`][histomammo.models.detection.fasterrcnn_brecahad]
        without backbone weights (``"frozen"``; a detector is called with a list of images).
    batches : Tensor, sequence of Tensor or iterable
        One batch (a ``(N, C, H, W)`` tensor, or a list of ``(C, H, W)`` images for a detector),
        or an iterable of batches, each a tensor, a list of images or an ``(images, targets)``
        pair (a ``DataLoader``). Images as the model takes them (float; detector images in
        [0, 1]); they are moved to the model's device.
    method : {"auto", "running", "frozen"}
        ``"auto"``: ``"frozen"`` when the model has ``FrozenBatchNorm2d`` layers, else
        ``"running"``.

    Returns
    -------
    int
        The number of norms calibrated (Inception v3: 94, 96 with its auxiliary classifier's,
        which needs 299x299 input; the BreCaHAD detector's ResNet-50: 53).

    Raises
    ------
    ValueError
        No batch, no norm of the kind ``method`` calibrates, or an unknown ``method``.

    Examples
    --------
    >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()).train()
    >>> calibrate_batchnorm(net, [torch.rand(8, 3, 16, 16), torch.rand(8, 3, 16, 16)])
    1
    >>> net.training, int(net[1].num_batches_tracked)  # the caller's mode; both batches seen
    (True, 2)
    >>> frozen = nn.Sequential(nn.Conv2d(3, 4, 3), FrozenBatchNorm2d(4))
    >>> calibrate_batchnorm(frozen, torch.rand(2, 3, 8, 8))
    1
    >>> round(float(frozen(torch.rand(2, 3, 8, 8)).detach().std()), 0)
    1.0
    """
    if method not in CALIBRATION_METHODS:
        raise ValueError(f"method must be one of {CALIBRATION_METHODS}, but got {method!r}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, but got {type(model).__name__}")
    stream = _batches(batches)
    first = next(stream, None)
    if first is None:
        raise ValueError("calibrate_batchnorm needs at least one batch of images, but got none")
    stream = itertools.chain([first], stream)
    if method == "auto":
        has_frozen = any(isinstance(m, FrozenBatchNorm2d) for m in model.modules())
        method = "frozen" if has_frozen else "running"
    modes = [(module, module.training) for module in model.modules()]  # parents first
    try:
        run = _calibrate_frozen if method == "frozen" else _calibrate_running
        count = run(model, stream, _device(model))
    finally:  # the caller's mode of every module, through each module's own train()
        for module, mode in modes:
            module.train(mode)
    on_calibrated = getattr(model, "on_calibrated", None)
    if on_calibrated is not None:
        on_calibrated()
    return count

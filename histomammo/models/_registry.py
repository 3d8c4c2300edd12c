"""The model registry: a static name table, ``register_model``, ``create_model``, ``list_models``.

Every builder registers itself with
[`register_model`][histomammo.models._registry.register_model] where it is defined (one family
module per architecture family), and is also listed in [`BUILDERS`][histomammo.models._registry.BUILDERS],
a static table of builder name → family module (timm keeps the same kind of table). The table
lets ``histomammo.models`` offer every builder and model class as an attribute without importing
any family first, and lets [`create_model`][histomammo.models._registry.create_model] import
only the family of the model asked for: ``create_model("unet")`` never imports e2cnn. A test
checks that the table equals what the family modules register. Registering one name twice is an
error, not a silent overwrite (torchvision's ``_api.py`` does the same).
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from torch import nn

__all__ = ["BUILDERS", "PUBLIC_NAMES", "create_model", "list_models", "register_model"]

Builder = TypeVar("Builder", bound=Callable[..., Any])

#: Builder name -> the family module (under ``histomammo.models``) that registers it.
BUILDERS: dict[str, str] = {
    "alexnet_grey": "alexnet", "alexnet_large": "alexnet",
    "resnet50_grey": "resnet", "resnet50_patch": "resnet",
    "vgg16_gap": "vgg",
    "patch_to_image": "whole_image",
    "all_conv_net": "allconv",
    "gcnn": "equivariant",
    "all_gconv_net": "equivariant_allconv",
    "plain_cnn": "equivariant_baseline",
    "p4m_densenet": "densenet_p4m",
    "inception_v3_transfer": "inception",
    "fasterrcnn_brecahad": "detection",
    "maskrcnn_glas": "maskrcnn",
    "unet": "unets",
}

#: Other names ``histomammo.models`` offers lazily: model classes and model-level functions,
#: name -> the module defining it.
PUBLIC_NAMES: dict[str, str] = {
    "GreyAlexNet": "alexnet", "GreyResNet": "resnet", "VGG16GAP": "vgg",
    "PatchToImageClassifier": "whole_image", "AllConvNet": "allconv", "GCNN": "equivariant",
    "AllGConvNet": "equivariant_allconv", "PlainCNN": "equivariant_baseline",
    "P4MDenseNet": "densenet_p4m", "InceptionV3Transfer": "inception",
    "inception_loss": "inception", "UNet": "unets",
    "calibrate_batchnorm": "calibration", "invariance_ratio": "invariance",
    "load_weights": "_weights", "read_state_dict": "_weights",
}

_REGISTRY: dict[str, Callable[..., Any]] = {}


def register_model(fn: Builder) -> Builder:
    """Register a model builder under its function name.

    Parameters
    ----------
    fn : callable
        A builder returning an ``nn.Module``; its ``__name__`` is the registered name.

    Returns
    -------
    callable
        ``fn`` itself, so this works as a decorator.

    Raises
    ------
    ValueError
        If another builder of that name is already registered.
    """
    name = fn.__name__
    if name in _REGISTRY and _REGISTRY[name] is not fn:
        raise ValueError(
            f"model {name!r} is already registered by {_REGISTRY[name].__module__}; "
            "choose another name"
        )
    _REGISTRY[name] = fn
    return fn


def list_models(pattern: str = "*") -> list[str]:
    """Names of the models matching a shell-style ``pattern``, sorted (nothing is imported).

    Examples
    --------
    >>> from histomammo.models import list_models
    >>> list_models("resnet50_*")
    ['resnet50_grey', 'resnet50_patch']
    """
    names = set(BUILDERS) | set(_REGISTRY)
    return sorted(name for name in names if fnmatch.fnmatchcase(name, pattern))


def _builder(name: str) -> Callable[..., Any]:
    if name not in _REGISTRY and name in BUILDERS:
        importlib.import_module(f"histomammo.models.{BUILDERS[name]}")
    try:
        return _REGISTRY[name]
    except KeyError:
        names = list_models()
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        raise ValueError(
            f"unknown model {name!r}; close matches {close}, all models: {names}"
        ) from None


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the registered model ``name``, importing only its family module.

    Parameters
    ----------
    name : str
        A name from [`list_models`][histomammo.models._registry.list_models].
    **kwargs
        Passed to the builder; every builder takes keyword-only ``num_classes`` and
        ``weights`` (``None`` by default: nothing is ever downloaded), and ``in_channels``
        where the input varies.

    Returns
    -------
    nn.Module

    Raises
    ------
    ValueError
        For an unknown name, listing the close matches.

    Examples
    --------
    >>> from histomammo.models import create_model
    >>> create_model("unet", num_classes=2, base_channels=4, depth=2).head.out_channels
    2
    """
    return _builder(name)(**kwargs)

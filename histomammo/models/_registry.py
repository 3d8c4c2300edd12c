"""The model registry: ``register_model`` / ``create_model`` / ``list_models``, timm-style.

A builder registers itself with :func:`register_model` where it is defined (one family module
per architecture family). :func:`create_model` and :func:`list_models` import every public
module of :mod:`histomammo.models` on first use, so a family module only has to exist to be
found, and nothing heavy is imported before a model is asked for. Registering one name twice is
an error, not a silent overwrite (torchvision's ``_api.py`` does the same).
"""

from __future__ import annotations

import fnmatch
import importlib
import pkgutil
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["create_model", "list_models", "register_model"]

Builder = TypeVar("Builder", bound=Callable[..., Any])

_REGISTRY: dict[str, Callable[..., Any]] = {}
_families_loaded = False


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
        If a builder of that name is already registered.
    """
    name = fn.__name__
    if name in _REGISTRY and _REGISTRY[name] is not fn:
        raise ValueError(
            f"model {name!r} is already registered by {_REGISTRY[name].__module__}; "
            "choose another name"
        )
    _REGISTRY[name] = fn
    return fn


def _load_families() -> None:
    global _families_loaded
    if _families_loaded:
        return
    package = importlib.import_module("histomammo.models")
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"histomammo.models.{info.name}")
    _families_loaded = True


def list_models(pattern: str = "*") -> list[str]:
    """Names of the registered models matching a shell-style ``pattern``, sorted.

    Examples
    --------
    >>> from histomammo.models import list_models
    >>> isinstance(list_models(), list)
    True
    """
    _load_families()
    return sorted(name for name in _REGISTRY if fnmatch.fnmatchcase(name, pattern))


def create_model(name: str, **kwargs: Any) -> Any:
    """Build the registered model ``name`` with keyword arguments for its builder.

    Parameters
    ----------
    name : str
        A name from :func:`list_models`.
    **kwargs
        Passed to the builder (``num_classes``, ``weights``, ...). ``weights=None`` is every
        builder's default: nothing is ever downloaded.

    Raises
    ------
    ValueError
        For an unknown name, listing the close matches.
    """
    _load_families()
    try:
        builder = _REGISTRY[name]
    except KeyError:
        close = [n for n in _REGISTRY if name.split("_")[0] in n]
        raise ValueError(
            f"unknown model {name!r}; registered models include {sorted(close) or sorted(_REGISTRY)}"
        ) from None
    return builder(**kwargs)

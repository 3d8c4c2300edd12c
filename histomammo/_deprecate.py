"""Deprecations that say when they end (scikit-image's ``deprecate_parameter(start, stop)``).

Every deprecation names the replacement and the version of removal, warns with
``FutureWarning`` (shown to users by default, unlike ``DeprecationWarning``), and turns into an
error once `histomammo.__version__` reaches the removal version, so a forgotten shim
cannot outlive its promise. The policy: a public name, keyword or default changes only after
warning for two minor releases (``since="0.2.0", remove_in="0.4.0"``).

Four helpers cover the cases:

- [`deprecated_alias`][histomammo._deprecate.deprecated_alias]: a renamed function or class, callable under its old name;
- [`rename_parameter`][histomammo._deprecate.rename_parameter]: a renamed keyword, accepted under its old name;
- [`remove_parameter`][histomammo._deprecate.remove_parameter]: a keyword that goes away;
- [`change_default`][histomammo._deprecate.change_default]: a default that changes, warned about when the caller relies on it.
"""

from __future__ import annotations

import functools
import inspect
import re
import warnings
from collections.abc import Callable
from typing import Any, TypeVar, cast

__all__ = [
    "DeprecationExpired",
    "deprecated_alias",
    "rename_parameter",
    "remove_parameter",
    "change_default",
]

F = TypeVar("F", bound=Callable[..., Any])

class DeprecationExpired(RuntimeError):
    """A deprecated name or keyword was used after its announced removal version."""


def _version_tuple(version: str) -> tuple[int, ...]:
    """``"0.1.0.dev0"`` -> ``(0, 1, 0)``: the release numbers, pre-release tags dropped."""
    match = re.match(r"(\d+(?:\.\d+)*)", version)
    if match is None:
        raise ValueError(f"not a version: {version!r}")
    numbers = tuple(int(part) for part in match.group(1).split("."))
    return numbers + (0,) * (3 - len(numbers))


def _current_version() -> str:
    from histomammo import __version__

    return __version__


def _warn_or_fail(message: str, remove_in: str, stacklevel: int,
                  current: str | None = None) -> None:
    current = _current_version() if current is None else current
    if _version_tuple(current) >= _version_tuple(remove_in):
        raise DeprecationExpired(
            f"{message} (it was to be removed in {remove_in}; this is {current}: remove the shim)")
    warnings.warn(f"{message}; it will be removed in {remove_in}", FutureWarning,
                  stacklevel=stacklevel + 1)


def deprecated_alias(old: str, new: F, *, since: str, remove_in: str) -> F:
    """``new`` under its former name ``old``, warning on every call.

    Parameters
    ----------
    old : str
        The former public name, e.g. ``"histomammo.plot.leaderboard"``.
    new : callable
        The function or class that replaces it.
    since, remove_in : str
        The version that deprecated it and the one that removes it.

    Examples
    --------
    >>> import warnings
    >>> def plot_roc(): return "roc"
    >>> roc = deprecated_alias("roc", plot_roc, since="0.1.0", remove_in="9.0.0")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     roc()
    'roc'
    >>> print(caught[0].message)
    roc is deprecated since 0.1.0, use ...plot_roc instead; it will be removed in 9.0.0
    """
    target = f"{new.__module__}.{new.__qualname__}"
    message = f"{old} is deprecated since {since}, use {target} instead"

    if inspect.isclass(new):
        # A subclass, so isinstance checks against the new class keep holding.
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            _warn_or_fail(message, remove_in, stacklevel=2)
            new.__init__(self, *args, **kwargs)

        alias = type(old.rsplit(".", 1)[-1], (new,), {"__init__": __init__,
                                                     "__doc__": f"Deprecated: {message}."})
        return cast(F, alias)  # a subclass of new, callable alike

    @functools.wraps(new)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _warn_or_fail(message, remove_in, stacklevel=2)
        return new(*args, **kwargs)

    wrapper.__doc__ = f"Deprecated: {message}."
    return cast(F, wrapper)  # functools.wraps: the signature is new's


def rename_parameter(old: str, new: str, *, since: str, remove_in: str) -> Callable[[F], F]:
    """Decorator: accept keyword ``old`` as ``new``, with a warning; both at once is an error.

    Examples
    --------
    >>> @rename_parameter("out_channels", "num_classes", since="0.1.0", remove_in="9.0.0")
    ... def unet(*, num_classes=2):
    ...     return num_classes
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     unet(out_channels=3)
    3
    """

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if old in kwargs:
                if new in kwargs:
                    raise TypeError(f"{fn.__qualname__}() got both {old!r} (deprecated) and "
                                    f"{new!r}; pass {new!r} only")
                _warn_or_fail(f"{fn.__qualname__}({old}=...) is deprecated since {since}, "
                              f"use {new}=... instead", remove_in, stacklevel=2)
                kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)

        return cast(F, wrapper)  # functools.wraps: the signature is fn's

    return decorate


def remove_parameter(name: str, *, since: str, remove_in: str,
                     hint: str = "it has no effect") -> Callable[[F], F]:
    """Decorator: keyword ``name`` is still accepted (and dropped) with a warning.

    Examples
    --------
    >>> @remove_parameter("verbose", since="0.1.0", remove_in="9.0.0")
    ... def fit():
    ...     return "done"
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     fit(verbose=True)
    'done'
    """

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if name in kwargs:
                kwargs.pop(name)
                _warn_or_fail(f"{fn.__qualname__}({name}=...) is deprecated since {since} and "
                              f"ignored: {hint}", remove_in, stacklevel=2)
            return fn(*args, **kwargs)

        return cast(F, wrapper)  # functools.wraps: the signature is fn's

    return decorate


def change_default(name: str, old: Any, new: Any, *, since: str,
                   change_in: str) -> Callable[[F], F]:
    """Decorator: keyword ``name``'s default becomes ``new`` in ``change_in``.

    Until then, a call that leaves ``name`` out gets ``old`` (the decorated function keeps it
    as its visible default) and a warning telling it to pass the value explicitly. Once
    ``change_in`` is reached the warning becomes an error, reminding the maintainers to
    switch the default.

    Examples
    --------
    >>> @change_default("from_logits", False, True, since="0.1.0", change_in="9.0.0")
    ... def roc_auc(scores, *, from_logits=False):
    ...     return from_logits
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     roc_auc([0.5])
    False
    >>> roc_auc([0.5], from_logits=True)
    True
    """

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if name not in kwargs:
                _warn_or_fail(f"{fn.__qualname__}: the default {name}={old!r} changes to "
                              f"{new!r} (announced in {since}); pass {name}= explicitly to "
                              "keep the current behaviour and silence this warning", change_in,
                              stacklevel=2)
            return fn(*args, **kwargs)

        return cast(F, wrapper)  # functools.wraps: the signature is fn's

    return decorate

"""A narrow numpy-2 compatibility shim for e2cnn 0.2.3, applied by
[`histomammo.models.equivariant`][histomammo.models.equivariant].

e2cnn 0.2.3 (its last release) predates numpy 2 in two places, both in ``e2cnn.kernels``:

* the ``__hash__`` of four kernel-basis solutions calls ``ndarray.tostring()``, which numpy 2.3
  removed (``tobytes()`` returns the same bytes, so hashes are unchanged). Every dihedral
  (P4M) steerable basis goes through one of them: building any ``FlipRot2dOnR2`` convolution
  fails with ``AttributeError: 'numpy.ndarray' object has no attribute 'tostring'``;
* ``psi``, ``chi`` and ``psichi`` call ``np.array(x, copy=False)``, which numpy 2 turns into a
  ``ValueError`` when ``x`` is a Python scalar (a copy cannot be avoided). The shim wraps them to
  hand e2cnn 1-d arrays instead, for which ``copy=False`` is a no-op, and e2cnn's own code runs.

Nothing else is touched, numpy is not pinned, and `apply` is idempotent. It patches only when
the installed numpy needs it: numpy 1.19 deprecated ``tostring`` (a ``DeprecationWarning``
from every dihedral hash) and 2.3 removed it, so every supported numpy (>= 1.24) gets it. ``import histomammo`` never imports e2cnn or this shim.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["apply", "is_applied", "r2conv"]

_HASH_ONE_ARRAY = (
    "R2FlipsSolution", "R2FlipsDiscreteRotationsSolution", "R2FlipsContinuousRotationsSolution",
)
_HASH_TWO_ARRAYS = ("R2ContinuousRotationsSolution",)  # its gamma is an array too
_NO_COPY_FUNCTIONS = ("psi", "chi", "psichi")
_SCALAR_PARAMETERS = {"k", "gamma", "s"}  # the arguments e2cnn passes to np.array(copy=False)
_applied = False
#: The one third-party warning e2cnn 0.2.3 raises in use: building an ``R2Conv`` indexes a
#: tensor with a ``torch.uint8`` mask (``SingleBlockBasisExpansion``), which torch deprecates.
_UINT8_INDEXING = r"indexing with dtype torch\.uint8 is now deprecated"


def _hash_mu(self: Any) -> int:
    return hash(self.in_irrep) + hash(self.out_irrep) + hash(self.mu.tobytes()) + hash(self.gamma)


def _hash_mu_gamma(self: Any) -> int:
    return (hash(self.in_irrep) + hash(self.out_irrep) + hash(self.mu.tobytes())
            + hash(self.gamma.tobytes()))


def _arrays_for_scalars(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """Wrap ``fn`` so that its ``k``, ``gamma`` and ``s`` arguments arrive as 1-d arrays."""
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> np.ndarray:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()  # e2cnn's defaults (k=1, gamma=0.) are Python scalars too
        for name in _SCALAR_PARAMETERS & bound.arguments.keys():
            bound.arguments[name] = np.atleast_1d(bound.arguments[name])
        return fn(*bound.args, **bound.kwargs)

    # functions take attributes at run time; typeshed's Callable does not declare this one
    wrapper.__histomammo_shim__ = True  # type: ignore[attr-defined]
    return wrapper


def _numpy_needs_shim() -> bool:
    # numpy 1.19 deprecated tostring() (a DeprecationWarning from every dihedral hash) and 2.3
    # removed it: every numpy histomammo supports (>= 1.24) needs the shim
    return not hasattr(np.ndarray, "tostring") or np.lib.NumpyVersion(np.__version__) >= "1.19.0"


def apply() -> bool:
    """Patch e2cnn for numpy 2 where needed; return whether the patch is in place.

    Returns
    -------
    bool
        ``True`` once the shim is applied (also on later calls), ``False`` when the installed
        numpy does not need it.

    Examples
    --------
    >>> from histomammo.models import _e2cnn_compat
    >>> _e2cnn_compat.apply() in (True, False)
    True
    """
    global _applied
    if _applied:
        return True
    if not _numpy_needs_shim():
        return False
    import e2cnn.kernels as kernels
    from e2cnn.kernels import irreps_basis, utils

    for name in _HASH_ONE_ARRAY:
        getattr(irreps_basis, name).__hash__ = _hash_mu
    for name in _HASH_TWO_ARRAYS:
        getattr(irreps_basis, name).__hash__ = _hash_mu_gamma
    for name in _NO_COPY_FUNCTIONS:
        wrapped = _arrays_for_scalars(getattr(utils, name))
        for module in (utils, kernels, irreps_basis):  # every namespace that bound the name
            if hasattr(module, name):
                setattr(module, name, wrapped)
    _applied = True
    return True


def is_applied() -> bool:
    """Whether `apply` has patched e2cnn in this process."""
    return _applied


def r2conv(*args: Any, **kwargs: Any) -> Any:
    """e2cnn's ``R2Conv(*args, **kwargs)``, without its ``torch.uint8`` indexing warning.

    The filter covers this one call only (``warnings.catch_warnings``), and only two messages:
    the ``torch.uint8`` indexing ``UserWarning``, and under numpy 1.x the ``DeprecationWarning``
    of ``ndarray.tostring()``, which e2cnn's basis hashing calls (numpy 2 removed it; there the
    shim of this module replaces it). Any other warning still reaches the user.

    Examples
    --------
    >>> import warnings
    >>> from histomammo.models import equivariant  # applies the numpy-2 shim first
    >>> import e2cnn.gspaces as gspaces, e2cnn.nn as enn
    >>> space = gspaces.Rot2dOnR2(4)
    >>> field = enn.FieldType(space, [space.regular_repr])
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error")
    ...     conv = r2conv(field, field, 3)
    >>> type(conv).__name__
    'R2Conv'
    """
    import e2cnn.nn as enn

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_UINT8_INDEXING, category=UserWarning)
        warnings.filterwarnings("ignore", message=r"tostring\(\) is deprecated",
                                category=DeprecationWarning)
        return enn.R2Conv(*args, **kwargs)

"""A |G|-times cheaper filter expansion for the e2cnn convolutions the library builds.

In training mode e2cnn's ``R2Conv`` expands its filter at every forward pass: one matrix
product of the free weights ``(K, B)`` (``K`` field pairs, ``B`` basis elements) with the
sampled basis ``(B, o * i * S)`` (``o``/``i`` maps per output/input field, ``S`` kernel
pixels). For regular output fields, equivariance makes every output orientation's slice of a
basis filter a permutation of the first one's: row ``g`` of the kernel at pixel ``p`` is row
``e`` at pixel ``g^-1 p`` with the input orientations permuted by ``g^-1``. So every column of
e2cnn's sampled basis equals (to float rounding) one column of its first-output-orientation
slice. :class:`R2Conv` finds that map once, by comparing the sampled columns (so nothing is
assumed about e2cnn's conventions), multiplies the weights with the ``(B, i * S)`` slice only,
``o`` times less work, and gathers the full filter with the map. The filter and its gradient
are e2cnn's to float rounding (about 1e-7 relative; tests compare with e2cnn's expansion);
parameters, buffers and the state dict are unchanged, and a layer whose basis has no such
map (non-regular outputs) keeps e2cnn's expansion.
"""

from __future__ import annotations

from typing import Any

import torch

from histomammo.models import _e2cnn_compat

_e2cnn_compat.apply()

import e2cnn.nn as enn  # noqa: E402  (after the shim, on purpose)

__all__ = ["R2Conv", "first_row_plan"]


def first_row_plan(
    sampled_basis: torch.Tensor, rtol: float = 1e-6
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The first-output-map slice of a sampled basis and the map rebuilding all of it.

    Parameters
    ----------
    sampled_basis : torch.Tensor
        e2cnn's ``(B, o, i, S)`` basis of one block.
    rtol : float
        Largest difference allowed between a column and its copy, relative to the largest
        basis value (e2cnn samples each orientation with its own cosines and sines, so the
        copies agree to float rounding, about 1e-7, not bit for bit).

    Returns
    -------
    (row_basis, index) or None
        ``row_basis`` ``(B, i * S)`` float and ``index`` ``(o * i * S,)`` int64 with
        ``row_basis[:, index]`` equal to ``sampled_basis.reshape(B, -1)`` within ``rtol``;
        ``None`` when some column has no copy in the first slice.

    Examples
    --------
    >>> basis = torch.tensor([[[[1.0, 2.0]], [[2.0, 1.0]]]])  # B=1, o=2, i=1, S=2
    >>> row, index = first_row_plan(basis)
    >>> row.tolist(), index.tolist()
    ([[1.0, 2.0]], [0, 1, 1, 0])
    """
    b, o, i, s = sampled_basis.shape
    columns = sampled_basis.detach().reshape(b, o * i * s).T.double()  # (o*i*S, B)
    row = columns[: i * s]
    distance = (columns[:, None, :] - row[None, :, :]).abs().amax(dim=2)  # (o*i*S, i*S)
    best, index = distance.min(dim=1)
    if best.max() > rtol * float(columns.abs().max()):
        return None
    return sampled_basis.detach().reshape(b, o * i * s)[:, : i * s].contiguous(), index


class R2Conv(enn.R2Conv):
    """e2cnn's ``R2Conv`` with the cheaper expansion of the module docstring (same arguments).

    Examples
    --------
    >>> from histomammo.models.equivariant import group_space, regular
    >>> space = group_space("p4")
    >>> conv = R2Conv(regular(space, 2), regular(space, 3), 3)
    >>> fast, _ = conv.expand_parameters()
    >>> slow, _ = enn.R2Conv.expand_parameters(conv)
    >>> torch.allclose(fast, slow, atol=1e-6)
    True
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        expansion = self.basisexpansion
        plan = None
        if expansion._n_pairs == 1:
            pair = expansion._representations_pairs[0]
            block = getattr(expansion, f"block_expansion_{pair}")
            plan = first_row_plan(block.sampled_basis)
        if plan is not None:
            self._block_shape = (expansion._out_count[pair[1]], expansion._in_count[pair[0]],
                                 *block.sampled_basis.shape[1:])
            # not persistent: the state dict stays e2cnn's
            self.register_buffer("_row_basis", plan[0], persistent=False)
            self.register_buffer("_row_index", plan[1], persistent=False)

    def expand_parameters(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The expanded filter ``(out, in, k, k)`` and bias, as e2cnn's method returns them."""
        if getattr(self, "_row_index", None) is None:  # during e2cnn's __init__, or no plan
            return super().expand_parameters()
        out_count, in_count, o, i, s = self._block_shape
        rows = self.weights.view(out_count * in_count, -1) @ self._row_basis  # (K, i * S)
        full = rows.index_select(1, self._row_index).view(out_count, in_count, o, i, s)
        k = self.kernel_size
        _filter = full.transpose(1, 2).reshape(out_count * o, in_count * i, k, k)
        bias = None if self.bias is None else self.bias_expansion @ self.bias
        return _filter, bias

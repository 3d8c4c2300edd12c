"""``StainNormalizer``: Macenko, Vahadane or Reinhard, fitted to a target, batched on any device."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from histomammo.errors import CheckpointError, DataFormatError
from histomammo.transforms.stain._augment import StainTransform
from histomammo.transforms.stain._colour import lab_to_rgb, rgb_to_lab
from histomammo.transforms.stain._macenko import macenko_batch
from histomammo.transforms.stain._od import (
    MIN_TISSUE_FRACTION,
    Images,
    ImagesT,
    as_batch,
    image_list,
    od_of,
    rgb_of,
    tissue_covariance,
    tissue_pixels,
    usable,
    warn_skipped,
)
from histomammo.transforms.stain._quantile import quantile
from histomammo.transforms.stain._vahadane import vahadane_tissue

__all__ = ["NormalizeStain", "StainNormalizer"]

METHODS = ("macenko", "vahadane", "reinhard")
#: Pixels normalised at a time: a batch of large tiles goes through in chunks of whole images
#: this size (at least one image), whose intermediates stay in cache instead of each pass
#: allocating and faulting in fresh memory (3.5x faster on 1024x1024 tiles on one CPU core).
CHUNK_PIXELS = 1 << 20
_KEYS = {"macenko": ("stains", "max_concentrations"), "vahadane": ("stains", "max_concentrations"),
         "reinhard": ("means", "stds")}


def pooled_pixels(images: Images | Sequence[Images]) -> torch.Tensor:
    """One image, a batch or a sequence of images as float64 0-255 pixels ``(1, 3, 1, P)``."""
    items = image_list(images)
    if not items:
        raise DataFormatError("expected at least one image to fit on, got an empty sequence")
    flat = [as_batch(item, torch.float64).pixels for item in items]
    flat = [pixels.movedim(1, 0).reshape(3, -1).to(flat[0].device) for pixels in flat]
    return torch.cat(flat, dim=1)[None, :, None, :]


class StainNormalizer:
    """Map images onto the stain appearance of a target.

    Parameters
    ----------
    method : {"macenko", "vahadane", "reinhard"}
        Macenko's or Vahadane's stain vectors (each image's concentrations rescaled to the
        target's 99th percentiles and recoloured with the target's vectors), or Reinhard's
        matching of CIELAB channel means and standard deviations.
    background : float
        Brightness of unstained glass (``I0``, 0-255) for optical densities.
    beta : float
        OD every channel of a tissue pixel reaches.
    alpha : float
        Macenko's angle percentile.
    lam : float
        Vahadane's sparsity weight.
    min_tissue : float
        Share of tissue pixels (OD at least ``beta`` in every channel) a tile needs; tiles
        with less, or with a single colour, are returned unchanged with one logged warning.
    generator : torch.Generator, optional
        Vahadane's pixel sampling.

    Notes
    -----
    Inputs: numpy ``(H, W, 3)`` / ``(N, H, W, 3)`` or torch ``(3, H, W)`` / ``(N, 3, H, W)``,
    uint8 (0-255) or floating point ([0, 1]); outputs have the input's kind, shape, dtype and
    device. Macenko and Reinhard run batched in torch; Vahadane estimates each image's
    vectors in turn (or once, with
    [`fit_source`][histomammo.transforms.stain._normalizer.StainNormalizer.fit_source]).
    Concentrations are least-squares for both vector methods.

    References
    ----------
    Macenko et al., ISBI 2009; Vahadane et al., IEEE TMI 35(8), 2016; Reinhard et al.,
    "Color transfer between images", IEEE Computer Graphics and Applications 21(5), 2001.

    Examples
    --------
    >>> from skimage.data import immunohistochemistry
    >>> image = immunohistochemistry()
    >>> normalizer = StainNormalizer("macenko").fit(image[:256])
    >>> normalizer.transform(image[256:]).shape
    (256, 512, 3)
    """

    def __init__(self, method: str = "macenko", *, background: float = 240.0, beta: float = 0.15,
                 alpha: float = 1.0, lam: float = 0.1, min_tissue: float = MIN_TISSUE_FRACTION,
                 generator: torch.Generator | None = None) -> None:
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        if not 0 <= alpha < 50:
            raise ValueError(f"alpha is a percentile in [0, 50), got {alpha}")
        self.method, self.background, self.beta, self.alpha = method, float(background), float(beta), float(alpha)
        self.lam, self.min_tissue, self.generator = float(lam), float(min_tissue), generator
        self.target: dict[str, torch.Tensor] | None = None
        self.source: dict[str, torch.Tensor] | None = None

    def fit(self, target: Images | Sequence[Images]) -> StainNormalizer:
        """Fit the target appearance on one image, a batch, or a sequence of images (pooled)."""
        self.target = self._profile(pooled_pixels(target), "target")
        return self

    def fit_source(self, patches: Images | Sequence[Images]) -> StainNormalizer:
        """Estimate one source appearance for a whole slide from its ``patches`` (pooled).

        Later calls of ``transform`` use it for every image instead of estimating each
        image's own; ``fit_source(None)`` goes back to per-image estimates.
        """
        self.source = None if patches is None else self._profile(pooled_pixels(patches), "patches")
        return self

    def _profile(self, pixels: torch.Tensor, what: str) -> dict[str, torch.Tensor]:
        od = od_of(pixels, self.background)
        mask = tissue_pixels(od, self.beta)
        cov, count = tissue_covariance(od, mask)
        if not bool(usable(cov, count, od.shape[-1], self.min_tissue)[0]):
            raise DataFormatError(
                f"{what}: {int(count[0])} of {od.shape[-1]} pixels are tissue (OD >= {self.beta} in "
                f"every channel) or they hold one colour; expected at least {self.min_tissue:.0%} "
                "stained pixels with some spread")
        if self.method == "reinhard":
            lab = rgb_to_lab(pixels / 255.0)
            return {"means": lab.mean(dim=(2, 3))[0], "stds": lab.std(dim=(2, 3), correction=0)[0]}
        stains = self._stains(od, mask, cov)
        return {"stains": stains[0], "max_concentrations": self._max_concentrations(od, stains)[0]}

    def _stains(self, od: torch.Tensor, mask: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
        if self.method == "macenko":
            return macenko_batch(od, mask, self.alpha, cov)
        return torch.stack([vahadane_tissue(one[:, keep], self.lam, self.generator, alpha=self.alpha)
                            for one, keep in zip(od, mask, strict=True)])

    @staticmethod
    def _max_concentrations(od: torch.Tensor, stains: torch.Tensor) -> torch.Tensor:
        concentrations = torch.linalg.pinv(stains) @ od
        return quantile(concentrations.flatten(0, 1), 0.99).reshape(od.shape[0], 2)

    def transform(self, images: ImagesT) -> ImagesT:
        """Normalise one image or a batch; tiles without enough tissue come back unchanged."""
        self._fitted_target()  # refuses before fit
        batch = as_batch(images)
        pixels = batch.pixels
        step = max(1, CHUNK_PIXELS // (pixels.shape[-2] * pixels.shape[-1] or 1))
        parts = [self._normalise(chunk) for chunk in pixels.split(step)]
        warn_skipped(torch.cat([ok for _, ok in parts]), f"less than {self.min_tissue:.0%} tissue or one colour")
        return batch.restore([out for out, _ in parts])  # each chunk back to uint8 before joining

    __call__ = transform

    def _normalise(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(n, 3, H, W)`` 0-255 pixels normalised (a new tensor), and which were usable."""
        od = od_of(pixels, self.background)
        mask = tissue_pixels(od, self.beta)
        cov, count = tissue_covariance(od, mask)
        ok = usable(cov, count, od.shape[-1], self.min_tissue)
        if self.method == "reinhard":
            out = self._reinhard(pixels)
        else:
            out = self._recolour(od, mask, cov, ok, pixels.shape)
        if out.device.type == "meta":
            out = torch.where(ok[:, None, None, None], out, pixels)
        elif not bool(ok.all()):
            out[~ok] = pixels[~ok]
        return out, ok

    def _fitted_target(self) -> dict[str, torch.Tensor]:
        if self.target is None:
            raise RuntimeError("StainNormalizer.transform called before fit(target)")
        return self.target

    def _given(self, profile: dict[str, torch.Tensor], like: torch.Tensor) -> list[torch.Tensor]:
        return [profile[key].to(like) for key in _KEYS[self.method]]

    def _recolour(self, od: torch.Tensor, mask: torch.Tensor, cov: torch.Tensor, ok: torch.Tensor,
                  shape: torch.Size) -> torch.Tensor:
        if self.source is not None:
            stains, source_max = (t.expand(len(od), *t.shape) for t in self._given(self.source, od))
        else:
            stains = self._per_image_stains(od, mask, cov, ok)
            source_max = None
        target_stains, target_max = self._given(self._fitted_target(), od)
        concentrations = torch.linalg.pinv(stains) @ od
        if source_max is None:
            source_max = quantile(concentrations.flatten(0, 1), 0.99).reshape(len(od), 2)
        scale = target_max / source_max.clamp_min(1e-6)
        return rgb_of(target_stains * scale[:, None, :], concentrations, shape, self.background)

    def _per_image_stains(self, od: torch.Tensor, mask: torch.Tensor, cov: torch.Tensor,
                          ok: torch.Tensor) -> torch.Tensor:
        """Each usable image's own vectors; the target's stand in for the others."""
        fallback = self._given(self._fitted_target(), od)[0].expand(len(od), 3, 2)
        if self.method == "macenko":  # batched, no host synchronisation
            return torch.where(ok[:, None, None], macenko_batch(od, mask, self.alpha, cov), fallback)
        stains = fallback.clone()
        if bool(ok.any()):
            stains[ok] = self._stains(od[ok], mask[ok], cov[ok])
        return stains

    def _reinhard(self, pixels: torch.Tensor) -> torch.Tensor:
        lab = rgb_to_lab(pixels / 255.0)
        if self.source is not None:
            means, stds = (t[None, :, None, None] for t in self._given(self.source, lab))
        else:
            means, stds = lab.mean(dim=(2, 3), keepdim=True), lab.std(dim=(2, 3), keepdim=True, correction=0)
        target_means, target_stds = (t[None, :, None, None] for t in self._given(self._fitted_target(), lab))
        lab = (lab - means) / stds.clamp_min(1e-6) * target_stds + target_means
        return (lab_to_rgb(lab) * 255.0).clamp(0, 255)

    def state_dict(self) -> dict[str, Any]:
        """The method, its parameters and the fitted target (and source) as plain tensors."""
        return {"method": self.method, "background": self.background, "beta": self.beta,
                "alpha": self.alpha, "lam": self.lam, "min_tissue": self.min_tissue,
                "target": None if self.target is None else dict(self.target),
                "source": None if self.source is None else dict(self.source)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what
        [`state_dict`][histomammo.transforms.stain._normalizer.StainNormalizer.state_dict] gave."""
        if state.get("method") != self.method:
            raise CheckpointError(f"state_dict is for method {state.get('method')!r}, this normalizer is {self.method!r}")
        for name in ("target", "source"):
            profile = state.get(name)
            if profile is not None and set(profile) != set(_KEYS[self.method]):
                raise CheckpointError(f"state_dict[{name!r}]: expected keys {_KEYS[self.method]}, got {sorted(profile)}")
        for name in ("background", "beta", "alpha", "lam", "min_tissue"):
            setattr(self, name, float(state[name]))
        self.target = _tensors(state["target"])
        self.source = _tensors(state["source"])

    def __repr__(self) -> str:
        fitted = "fitted" if self.target is not None else "not fitted"
        return f"StainNormalizer(method={self.method!r}, background={self.background}, {fitted})"


def _tensors(profile: dict[str, Any] | None) -> dict[str, torch.Tensor] | None:
    if profile is None:
        return None
    return {key: torch.as_tensor(np.asarray(value) if not isinstance(value, torch.Tensor) else value,
                                 dtype=torch.float64) for key, value in profile.items()}


class NormalizeStain(StainTransform):
    """A fitted [`StainNormalizer`][histomammo.transforms.stain.StainNormalizer] as a v2 transform.

    Images (``tv_tensors.Image``, a plain tensor when it is the only image, numpy) are
    normalised, batched or not; boxes, masks and labels pass through.

    Examples
    --------
    >>> import torch
    >>> from torchvision import tv_tensors
    >>> from skimage.data import immunohistochemistry
    >>> normalizer = StainNormalizer("reinhard").fit(immunohistochemistry())
    >>> image = tv_tensors.Image(torch.full((3, 8, 8), 128, dtype=torch.uint8))
    >>> mask = tv_tensors.Mask(torch.zeros(8, 8, dtype=torch.uint8))
    >>> out, same = NormalizeStain(normalizer)(image, mask)
    >>> type(out).__name__, same is mask
    ('Image', True)
    """

    def __init__(self, normalizer: StainNormalizer) -> None:
        super().__init__()
        if normalizer.target is None:
            raise ValueError("NormalizeStain needs a fitted StainNormalizer (call .fit(target) first)")
        self.normalizer = normalizer

    def apply(self, inpt: Any, params: dict[str, Any]) -> Any:
        return self.normalizer.transform(inpt)

    def extra_repr(self) -> str:
        return f"method={self.normalizer.method!r}"

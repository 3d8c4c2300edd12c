"""RandStainNA (Shen et al. 2022): Reinhard towards a random virtual template, batched in torch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from histomammo.transforms.stain._augment import StainTransform, batch_size
from histomammo.transforms.stain._colour import (
    hed_to_rgb,
    hsv_to_rgb,
    lab_to_rgb,
    rgb_to_hed,
    rgb_to_hsv,
    rgb_to_lab,
)
from histomammo.transforms.stain._od import (
    MIN_TISSUE_FRACTION,
    Images,
    as_batch,
    image_list,
    od_of,
    tissue_covariance,
    tissue_pixels,
    usable,
    warn_skipped,
)

__all__ = ["CRC_LAB_STATISTICS", "RandStainNA", "StainStatistics", "channel_statistics"]

_SPACES = {
    "lab": (lambda x: rgb_to_lab(x / 255.0), lambda y: lab_to_rgb(y) * 255.0),
    "hsv": (lambda x: rgb_to_hsv(x / 255.0), lambda y: hsv_to_rgb(y) * 255.0),
    "hed": (rgb_to_hed, hed_to_rgb),
}
_DISTRIBUTIONS = ("normal", "laplace", "uniform")


def channel_statistics(images: Images, color_space: str = "lab") -> tuple[torch.Tensor, torch.Tensor]:
    """Per image, the mean and standard deviation of each channel in ``color_space``.

    Returns two float ``(N, 3)`` tensors (one row for a single image). Channels: CIELAB
    (L 0-100), HSV (all on [0, 1]) or HED (skimage's ``rgb2hed`` units).
    """
    values = _SPACES[_space(color_space)][0](as_batch(images, torch.float64).pixels)
    return values.mean(dim=(2, 3)), values.std(dim=(2, 3), correction=0)


def _space(color_space: str) -> str:
    name = color_space.lower()
    if name not in _SPACES:
        raise ValueError(f"color_space must be one of {sorted(_SPACES)}, got {color_space!r}")
    return name


@dataclass(frozen=True)
class StainStatistics:
    """A dataset's stain style: how channel means and standard deviations vary over its images.

    Attributes
    ----------
    color_space : {"lab", "hsv", "hed"}
    avg_mean, avg_std : tuple of float
        Mean and standard deviation, over images, of each channel's image mean.
    std_mean, std_std : tuple of float
        The same for each channel's image standard deviation.
    """

    color_space: str
    avg_mean: tuple[float, float, float]
    avg_std: tuple[float, float, float]
    std_mean: tuple[float, float, float]
    std_std: tuple[float, float, float]

    @classmethod
    def fit(cls, images: Images | Sequence[Images], color_space: str = "lab") -> StainStatistics:
        """The statistics of a batch or a sequence of training images (their pre-processing step)."""
        items = image_list(images)
        stats = [channel_statistics(item, color_space) for item in items]
        means = torch.cat([m for m, _ in stats]).numpy()
        stds = torch.cat([s for _, s in stats]).numpy()
        avg_mean, avg_std, std_mean, std_std = (
            (float(row[0]), float(row[1]), float(row[2]))
            for row in (means.mean(0), means.std(0), stds.mean(0), stds.std(0)))
        return cls(_space(color_space), avg_mean, avg_std, std_mean, std_std)


#: The RandStainNA authors' LAB statistics of NCT-CRC-HE-100K (their ``CRC_LAB_randomTrue_n0.yaml``),
#: converted from OpenCV's 8-bit LAB (``L * 255 / 100``, ``a + 128``, ``b + 128``) to CIELAB.
CRC_LAB_STATISTICS = StainStatistics(
    "lab", avg_mean=(61.974, 23.187, -11.188), avg_std=(19.134, 10.958, 6.643),
    std_mean=(14.470, 8.134, 6.129), std_std=(5.640, 2.822, 2.013))


class RandStainNA(StainTransform):
    """Random stain normalisation and augmentation (Shen et al. 2022).

    Per image, a virtual template is drawn: each channel's target mean from
    ``distribution(avg_mean, avg_std * (1 + std_hyper))`` and target standard deviation from
    ``distribution(std_mean, std_std * (1 + std_hyper))`` (clipped at 0); the image is then
    Reinhard-normalised towards it in ``statistics.color_space``: ``(x - mean) / std * t_std
    + t_mean`` per channel (the image's std floored at 1e-4, as in the authors' code).

    Parameters
    ----------
    statistics : StainStatistics
        The training set's stain style (``StainStatistics.fit``); by default the authors'
        NCT-CRC-HE-100K LAB statistics.
    std_hyper : float
        Widens (> 0) or narrows (< 0, down to -1) the template distribution.
    distribution : {"normal", "laplace", "uniform"}
        Laplace uses the standard deviation as its scale, as the authors' code does; uniform
        spans ``mean +- 3 std`` (the "three-sigma rule" their code intends).
    p : float
        Probability of changing each image.
    min_tissue : float
        Tiles with less tissue (OD at least 0.15 in every channel under a 240 background), or
        of one colour, are returned unchanged with one logged warning.
    generator : torch.Generator, optional
        Source of the draws.

    Notes
    -----
    Differences from the authors' code: CIELAB and HSV in floating point rather than
    OpenCV's 8-bit encodings (hue wraps around instead of being clipped), and HED converted
    back exactly rather than min-max rescaled.

    References
    ----------
    Shen et al., "RandStainNA: Learning stain-agnostic features from histology slides by
    bridging stain augmentation and normalization", MICCAI 2022.

    Examples
    --------
    >>> import torch
    >>> from skimage.data import immunohistochemistry
    >>> image = torch.from_numpy(immunohistochemistry()[:64, :64]).permute(2, 0, 1)
    >>> RandStainNA(generator=torch.Generator().manual_seed(0))(image).shape
    torch.Size([3, 64, 64])
    """

    def __init__(self, statistics: StainStatistics = CRC_LAB_STATISTICS, *, std_hyper: float = 0.0,
                 distribution: str = "normal", p: float = 1.0, min_tissue: float = MIN_TISSUE_FRACTION,
                 generator: torch.Generator | None = None) -> None:
        super().__init__(generator)
        if distribution not in _DISTRIBUTIONS:
            raise ValueError(f"distribution must be one of {_DISTRIBUTIONS}, got {distribution!r}")
        if std_hyper < -1:
            raise ValueError(f"std_hyper must be at least -1, got {std_hyper}")
        if not 0 <= p <= 1:
            raise ValueError(f"p must lie in [0, 1], got {p}")
        _space(statistics.color_space)
        self.statistics, self.std_hyper, self.distribution = statistics, float(std_hyper), distribution
        self.p, self.min_tissue = float(p), float(min_tissue)

    def _draw(self, loc: tuple[float, ...], scale: tuple[float, ...], n: int) -> torch.Tensor:
        loc_t = torch.tensor(loc, dtype=torch.float64)
        scale_t = torch.tensor(scale, dtype=torch.float64) * (1 + self.std_hyper)
        if self.distribution == "uniform":
            return self.uniform(loc_t - 3 * scale_t, loc_t + 3 * scale_t, (n, 3)).cpu()
        u = self.uniform(-0.5, 0.5, (n, 3)).cpu()
        if self.distribution == "laplace":
            return loc_t - scale_t * torch.sign(u) * torch.log1p(-2 * u.abs())
        return loc_t + scale_t * torch.erfinv(2 * u) * 2**0.5

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        n, stats = batch_size(flat_inputs), self.statistics
        means = self._draw(stats.avg_mean, stats.avg_std, n)
        stds = self._draw(stats.std_mean, stats.std_std, n).clamp_min(0)
        return {"means": means, "stds": stds, "apply": self.uniform(0, 1, (n,)).cpu() < self.p}

    def apply(self, inpt: Any, params: dict[str, Any]) -> Any:
        batch = as_batch(inpt)
        pixels = batch.pixels
        forward, backward = _SPACES[self.statistics.color_space]
        values = forward(pixels)
        means, stds = (params[k].to(values)[:, :, None, None] for k in ("means", "stds"))
        own_mean = values.mean(dim=(2, 3), keepdim=True)
        own_std = values.std(dim=(2, 3), keepdim=True, correction=0).clamp_min(1e-4)
        out = backward((values - own_mean) / own_std * stds + means).clamp(0, 255)
        od = od_of(pixels, 240.0)
        mask = tissue_pixels(od, 0.15)
        ok = usable(*tissue_covariance(od, mask), od.shape[-1], self.min_tissue)
        warn_skipped(ok, f"less than {self.min_tissue:.0%} tissue or one colour")
        keep = (ok & params["apply"].to(ok.device))[:, None, None, None]
        return batch.restore(torch.where(keep, out, pixels))

    def extra_repr(self) -> str:
        return (f"color_space={self.statistics.color_space!r}, std_hyper={self.std_hyper}, "
                f"distribution={self.distribution!r}, p={self.p}")

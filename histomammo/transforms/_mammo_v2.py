"""``torchvision.transforms.v2`` classes, each a thin wrapper of one function of [`mammo`][histomammo.transforms.mammo]."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from histomammo.transforms._mammo_crop import orient_left, otsu_crop, remove_markers
from histomammo.transforms._mammo_presets import (
    normalize_intensity,
    preprocess_crop,
    preprocess_naive,
)
from histomammo.transforms._mammo_resize import downscale_area

__all__ = [
    "DownscaleArea", "NormalizeIntensity", "OrientLeft", "OtsuCrop", "PreprocessCrop",
    "PreprocessNaive", "RemoveMarkers",
]


def tensor_like(array: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    """``array`` as a tensor on ``like``'s device, a ``tv_tensors.Image`` if ``like`` is one.

    The functions run in numpy on the CPU; their result goes back to the input's device
    (a CUDA image comes back on its GPU, as torchvision's transforms keep the device).
    The dtype is the function's (e.g. float32 from
    [`normalize_intensity`][histomammo.transforms.mammo.normalize_intensity]).
    """
    out = torch.from_numpy(np.ascontiguousarray(array)).to(device=like.device)
    return tv_tensors.Image(out) if isinstance(like, tv_tensors.Image) else out


class _GreyscaleTransform(v2.Transform):
    """Apply a numpy ``(H, W) -> (H', W')`` function to numpy arrays and greyscale tensors.

    numpy ``(H, W)`` stays numpy; a tensor or ``tv_tensors.Image`` of shape ``(H, W)`` or
    ``(1, H, W)`` comes back as the same kind with the same number of dimensions, on the
    input's device ([`tensor_like`][histomammo.transforms._mammo_v2.tensor_like]).
    """

    _transformed_types = (torch.Tensor, np.ndarray)
    # The numpy function each subclass sets, made by ``_wrapping``.
    _function: ClassVar[Callable[[_GreyscaleTransform, np.ndarray], np.ndarray]]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        self.kwargs = kwargs

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if isinstance(inpt, np.ndarray):
            return self._function(inpt)
        if isinstance(inpt, (tv_tensors.BoundingBoxes, tv_tensors.Mask)):
            raise TypeError(f"{type(self).__name__} transforms greyscale images only, got {type(inpt).__name__}")
        if inpt.ndim == 3 and inpt.shape[0] == 1:
            channel = True
        elif inpt.ndim == 2:
            channel = False
        else:
            raise ValueError(f"{type(self).__name__} needs a (1, H, W) or (H, W) image, got shape {tuple(inpt.shape)}")
        array = inpt.detach().cpu().numpy()
        out = self._function(array[0] if channel else array)
        return tensor_like(out[None] if channel else out, inpt)

    def extra_repr(self) -> str:
        return ", ".join(f"{key}={value!r}" for key, value in self.kwargs.items())


def _wrapping(
    function: Callable[..., Any], select: Callable[[Any], np.ndarray] | None = None
) -> Callable[[_GreyscaleTransform, np.ndarray], np.ndarray]:
    """A ``_function`` method calling ``function(image, **self.kwargs)`` (then ``select``)."""

    def apply(self: _GreyscaleTransform, image: np.ndarray) -> np.ndarray:
        result = function(image, **self.kwargs)
        return result if select is None else select(result)

    return apply


class OtsuCrop(_GreyscaleTransform):
    """[`otsu_crop`][histomammo.transforms.mammo.otsu_crop] (the image only, not the box).

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((64, 64), np.uint16); image[8:40, :30] = 3000
    >>> OtsuCrop(out_size=(16, 16))(image).shape
    (16, 16)
    """

    def __init__(self, *, blur_sigma: float = 1.0, out_size: tuple[int, int] = (224, 224),
                 working_size: int = 512) -> None:
        super().__init__(blur_sigma=blur_sigma, out_size=tuple(out_size), working_size=working_size)

    _function = _wrapping(otsu_crop, select=lambda result: result.image)


class RemoveMarkers(_GreyscaleTransform):
    """[`remove_markers`][histomammo.transforms.mammo.remove_markers]."""

    def __init__(self, *, method: str = "saturated", level: float | None = None,
                 background: float | None = None) -> None:
        if method not in ("saturated", "outside_breast"):
            raise ValueError(f"method must be 'saturated' or 'outside_breast', got {method!r}")
        super().__init__(method=method, level=level, background=background)

    _function = _wrapping(remove_markers)


class DownscaleArea(_GreyscaleTransform):
    """[`downscale_area`][histomammo.transforms.mammo.downscale_area]."""

    def __init__(self, factor: int = 8) -> None:
        super().__init__(factor=factor)

    _function = _wrapping(downscale_area)


class OrientLeft(_GreyscaleTransform):
    """[`orient_left`][histomammo.transforms.mammo.orient_left] with the side inferred from the
    tissue."""

    def __init__(self) -> None:
        super().__init__()

    _function = _wrapping(orient_left, select=lambda result: result[0])


class NormalizeIntensity(_GreyscaleTransform):
    """[`normalize_intensity`][histomammo.transforms.mammo.normalize_intensity] (float32 output)."""

    def __init__(self, method: str = "percentile", *, reference: np.ndarray | None = None,
                 percentiles: tuple[float, float] = (1.0, 99.0)) -> None:
        if method not in ("percentile", "histogram"):
            raise ValueError(f"method must be 'percentile' or 'histogram', got {method!r}")
        if method == "histogram" and reference is None:
            raise ValueError("method='histogram' needs a reference")
        super().__init__(method=method, reference=reference, percentiles=tuple(percentiles))

    _function = _wrapping(normalize_intensity)

    def extra_repr(self) -> str:
        return f"method={self.kwargs['method']!r}, percentiles={self.kwargs['percentiles']!r}"


class PreprocessNaive(_GreyscaleTransform):
    """[`preprocess_naive`][histomammo.transforms.mammo.preprocess_naive] (side inferred from the
    tissue).

    Examples
    --------
    >>> import torch
    >>> from torchvision import tv_tensors
    >>> image = tv_tensors.Image(torch.zeros(1, 800, 640, dtype=torch.float32))
    >>> out = PreprocessNaive()(image)
    >>> type(out).__name__, tuple(out.shape)
    ('Image', (1, 512, 416))
    """

    def __init__(self, *, factor: int = 8, out_shape: tuple[int, int] = (512, 416),
                 fit: str = "pad", marker_method: str = "saturated") -> None:
        if fit not in ("pad", "resize"):
            raise ValueError(f"fit must be 'pad' or 'resize', got {fit!r}")
        super().__init__(factor=factor, out_shape=tuple(out_shape), fit=fit,
                         marker_method=marker_method)

    _function = _wrapping(preprocess_naive)


class PreprocessCrop(_GreyscaleTransform):
    """[`preprocess_crop`][histomammo.transforms.mammo.preprocess_crop]."""

    def __init__(self, *, out_size: tuple[int, int] = (224, 224),
                 marker_method: str = "saturated", blur_sigma: float = 1.0) -> None:
        super().__init__(out_size=tuple(out_size), marker_method=marker_method,
                         blur_sigma=blur_sigma)

    _function = _wrapping(preprocess_crop)

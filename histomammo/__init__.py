"""histomammo: breast-cancer imaging research in PyTorch.

Subpackages load on first use, so ``import histomammo`` imports neither torch nor any
decoder::

    import histomammo
    image = histomammo.io.read_dicom("scan.dcm")   # histomammo.io is imported here
"""

from histomammo._lazy import attach

__version__ = "0.1.0"

__getattr__, __dir__, _lazy_all = attach(
    __name__, submodules=["datasets", "engine", "errors", "inference", "io", "metrics", "models", "plot", "postprocess", "systems", "transforms"],
    attributes={"_show_versions": ["show_versions"]},
)
__all__ = ["__version__", *_lazy_all]
del attach

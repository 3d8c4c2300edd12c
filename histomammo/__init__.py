"""histomammo: breast-cancer imaging research in PyTorch.

Subpackages load on first use, so ``import histomammo`` imports neither torch nor any
decoder:

```python
import histomammo
image = histomammo.io.read_dicom("scan.dcm")   # histomammo.io is imported here
```
"""

from histomammo._lazy import attach

__version__ = "0.1.0.dev0"

__getattr__, __dir__, _lazy_all = attach(
    __name__, submodules=["datasets", "engine", "errors", "inference", "io", "metrics", "models", "plot", "postprocess", "systems", "transforms"]
)
__all__ = ["__version__", *_lazy_all]
del attach

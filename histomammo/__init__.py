"""histomammo: breast-cancer imaging research in PyTorch.

Subpackages load on first use, so ``import histomammo`` imports neither torch nor any
decoder:

```python
import histomammo
image = histomammo.io.read_dicom("scan.dcm")   # histomammo.io is imported here
```
"""

from histomammo._lazy import attach_stub

__version__ = "0.1.0"

# the public names are listed once, in __init__.pyi (read by type checkers too)
__getattr__, __dir__, __all__ = attach_stub(__name__, __file__)

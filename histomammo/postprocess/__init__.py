"""Post-processing: everything between a model's raw output and a metric.

- [`glas`][histomammo.postprocess.glas]: probability maps to gland instances, and the GlaS
  2015 entrants' three steps (small objects, holes, weak connections);
- [`duplicates`][histomammo.postprocess.duplicates]: one detection per cell
  ([`suppress_duplicates`][histomammo.postprocess.duplicates.suppress_duplicates]);
- [`instances`][histomammo.postprocess.instances]: Mask R-CNN outputs to instance label
  images ([`maskrcnn_instances`][histomammo.postprocess.instances.maskrcnn_instances]).

Every function takes numpy arrays or torch tensors; a tensor comes back as a tensor on its
own device.
"""

from histomammo._lazy import attach_stub

# the public names are listed once, in __init__.pyi (read by type checkers too)
__getattr__, __dir__, __all__ = attach_stub(__name__, __file__)

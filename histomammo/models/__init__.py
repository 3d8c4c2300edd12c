"""Models: one module per architecture family, each builder registered by name.

``create_model(name, **kwargs)`` and ``list_models(pattern)`` work timm-style, and every builder
and model class is an attribute of this package, loaded on first use from a static name table
(``histomammo.models._registry.BUILDERS``): ``histomammo.models.UNet`` imports only the U-Net's
module, never e2cnn. Every builder takes keyword-only ``num_classes``, ``weights`` (``None`` by
default; a path is loaded by [`load_weights`][histomammo.models._weights.load_weights]) and
``in_channels`` where the input varies.
"""

from histomammo._lazy import attach_stub

# the public names are listed once, in __init__.pyi (read by type checkers too)
__getattr__, __dir__, __all__ = attach_stub(__name__, __file__)

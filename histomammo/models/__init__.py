"""Models: one module per architecture family, each builder registered by name.

``create_model(name, **kwargs)`` and ``list_models(pattern)`` work timm-style; every builder
takes ``weights=None`` by default and loads a user's file only when given a path.
"""

from histomammo._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    attributes={
        "_registry": ["create_model", "list_models", "register_model"],
        "detection": ["fasterrcnn_brecahad", "calibrate_frozen_batchnorm"],
    },
)

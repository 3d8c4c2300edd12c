"""Training engine: :class:`Trainer` with exact resume, AMP, DDP under torchrun, callbacks."""

from histomammo._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    submodules=["callbacks", "checkpoint", "distributed", "sampler"],
    attributes={"trainer": ["Trainer"]},
)

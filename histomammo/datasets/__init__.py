"""Datasets: one module per public dataset layout, plus :mod:`~histomammo.datasets.synthetic`,
which writes small files in those exact layouts for tests, demos and tutorials."""

from histomammo._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    submodules=["synthetic"],
    attributes={
        "brecahad": ["BreCaHAD", "read_annotations", "split_brecahad", "collate_detection"],
    },
)

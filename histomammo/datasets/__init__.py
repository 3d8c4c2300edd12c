"""Datasets: one module per public dataset layout, plus :mod:`~histomammo.datasets.synthetic`,
which writes small files in those exact layouts for tests, demos and tutorials."""

from histomammo._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    submodules=["synthetic"],
    attributes={
        "glas": ["GlaS", "GlaSRecord", "read_glas_annotation", "read_glas_image",
                 "read_grade_csv"],
    },
)

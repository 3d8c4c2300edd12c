"""Datasets: one module per public dataset layout, plus :mod:`~histomammo.datasets.synthetic`,
which writes small files in those exact layouts for tests, demos and tutorials."""

from histomammo._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    submodules=["birads", "cbis_ddsm", "inbreast", "synthetic"],
    attributes={
        "pcam": ["PCam"],
        "image_folder": ["export_image_folder"],
        "stats": ["compute_mean_std"],
        "pcam_from_slides": ["make_pcam_from_slides"],
        "_mammo_common": ["MammoRecord", "patient_split"],
        "cbis_ddsm": ["CBISDDSM"],
        "inbreast": ["INbreast"],
    },
)

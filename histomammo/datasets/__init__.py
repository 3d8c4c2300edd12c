"""Datasets: one module per public dataset layout, plus
[`synthetic`][histomammo.datasets.synthetic],
which writes small files in those exact layouts for tests, demos and tutorials."""

from histomammo._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    submodules=["birads", "cbis_ddsm", "inbreast", "mammo_index", "screening", "synthetic"],
    attributes={
        "_mammo_common": ["MammoRecord", "patient_split"],
        "cbis_ddsm": ["CBISDDSM"],
        "inbreast": ["INbreast"],
        "mammo_index": ["MammoIndex"],
        "screening": ["ScreeningArchive"],
        "pcam": ["PCam"],
        "brecahad": ["BreCaHAD", "read_annotations", "split_brecahad", "collate_detection",
                     "list_images"],
        "glas": ["GlaS", "read_glas_annotation", "read_glas_image", "read_grade_csv"],
        "image_folder": ["export_image_folder"],
        "stats": ["compute_mean_std"],
        "pcam_from_slides": ["make_pcam_from_slides"],
    },
)

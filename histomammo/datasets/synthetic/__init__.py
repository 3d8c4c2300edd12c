"""Small synthetic files in the exact layouts of the real datasets, for tests, demos and tutorials.

One writer module per layout; this package re-exports their public names (loaded on first
use). All randomness comes from a seed or a :class:`numpy.random.Generator` the caller passes,
and every file goes through :func:`histomammo._atomic.atomic_write`, so an interrupted run
never leaves half a file.

Mammography (DICOM), :mod:`~histomammo.datasets.synthetic.dicom`
    :func:`synthetic_mammogram` draws a breast-shaped image; :func:`write_dicom` stores an
    image as a Digital Mammography X-Ray Image (Modality MG) DICOM file.

BreCaHAD (TIFF + JSON), :mod:`~histomammo.datasets.synthetic.brecahad`
    :func:`make_brecahad` writes H&E-like images with annotated tumour and other nuclei.
"""

from histomammo._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    attributes={
        "dicom": ["synthetic_mammogram", "write_dicom"],
        "brecahad": ["make_brecahad"],
    },
)

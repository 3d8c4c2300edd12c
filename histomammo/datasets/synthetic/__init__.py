"""Small synthetic files in the exact layouts of the real datasets, for tests, demos and tutorials.

One writer module per layout; this package re-exports their public names (loaded on first
use). All randomness comes from a seed or a ``numpy.random.Generator`` the caller passes,
and every file goes through ``histomammo._atomic.atomic_write``, so an interrupted run
never leaves half a file.

- **Mammography (DICOM), ``dicom``**: ``synthetic_mammogram`` draws a breast-shaped image;
  ``write_dicom`` stores an image as a Digital Mammography X-Ray Image (Modality MG) DICOM file.

- **Mammography datasets, ``mammo`` and ``mammo_*``**: ``screening_mammogram`` adds skin line,
  calcifications, burned-in markers and a spiculated mass; ``make_inbreast``, ``make_cbis_ddsm``
  and ``make_screening_archive`` write the INbreast, CBIS-DDSM and screening-archive layouts.

- **PatchCamelyon (HDF5), [`pcam`][histomammo.datasets.synthetic.pcam]**: ``make_pcam`` writes
  H&E-coloured 96x96 patches, labels and meta CSVs in PCam's layout.

- **Whole-slide images (tiled pyramidal TIFF),
  [`pcam_slides`][histomammo.datasets.synthetic.pcam_slides]**: ``make_slide`` writes an H&E
  slide with a tumour region and returns its masks.

- **BreCaHAD (TIFF + JSON), ``histomammo.datasets.synthetic.brecahad``**: ``make_brecahad``
  writes H&E-like images with annotated tumour and other nuclei, as distributed: ``images/`` and
  ``groundTruth/`` (or ``groundtruth``), the seven keys, points divided by the image width and
  height.

- **Gland segmentation (GlaS / Warwick-QU), ``histomammo.datasets.synthetic.glas``**:
  ``make_glas`` writes the flat release layout with ``Grade.csv`` as released (bare CR line
  endings, no final newline, patients 1-16 recurring across parts, ...); ``draw_glands`` draws
  one image.

- **Stains, ``restain`` and ``SYNTHETIC_STAINS``**: Every histology writer takes ``stain=`` (a
  name or a ``(3, 2)`` matrix) and redraws its images with those stain vectors, so tests and
  demos can vary the stain.
"""

from histomammo._lazy import attach_stub

# the public names are listed once, in __init__.pyi (read by type checkers too)
__getattr__, __dir__, __all__ = attach_stub(__name__, __file__)

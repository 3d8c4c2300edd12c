"""Public names of ``histomammo.datasets``: the one list, read by type checkers and, through
[`attach_stub`][histomammo._lazy.attach_stub], by the lazy ``__init__.py``."""

from histomammo.datasets import birads as birads
from histomammo.datasets import cbis_ddsm as cbis_ddsm
from histomammo.datasets import inbreast as inbreast
from histomammo.datasets import mammo_index as mammo_index
from histomammo.datasets import screening as screening
from histomammo.datasets import synthetic as synthetic
from histomammo.datasets._mammo_common import MammoRecord as MammoRecord
from histomammo.datasets._mammo_common import patient_split as patient_split
from histomammo.datasets.brecahad import BreCaHAD as BreCaHAD
from histomammo.datasets.brecahad import collate_detection as collate_detection
from histomammo.datasets.brecahad import list_images as list_images
from histomammo.datasets.brecahad import read_annotations as read_annotations
from histomammo.datasets.brecahad import split_brecahad as split_brecahad
from histomammo.datasets.cbis_ddsm import CBISDDSM as CBISDDSM
from histomammo.datasets.glas import GlaS as GlaS
from histomammo.datasets.glas import read_glas_annotation as read_glas_annotation
from histomammo.datasets.glas import read_glas_image as read_glas_image
from histomammo.datasets.glas import read_grade_csv as read_grade_csv
from histomammo.datasets.image_folder import export_image_folder as export_image_folder
from histomammo.datasets.inbreast import INbreast as INbreast
from histomammo.datasets.mammo_index import MammoIndex as MammoIndex
from histomammo.datasets.pcam import PCam as PCam
from histomammo.datasets.pcam_from_slides import make_pcam_from_slides as make_pcam_from_slides
from histomammo.datasets.screening import ScreeningArchive as ScreeningArchive
from histomammo.datasets.stats import compute_mean_std as compute_mean_std

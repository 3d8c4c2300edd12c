"""Public names of ``histomammo.datasets.synthetic``: the one list, read by type checkers and, through
[`attach_stub`][histomammo._lazy.attach_stub], by the lazy ``__init__.py``."""

from histomammo.datasets.synthetic._stain import SYNTHETIC_STAINS as SYNTHETIC_STAINS
from histomammo.datasets.synthetic._stain import restain as restain
from histomammo.datasets.synthetic.brecahad import make_brecahad as make_brecahad
from histomammo.datasets.synthetic.dicom import synthetic_mammogram as synthetic_mammogram
from histomammo.datasets.synthetic.dicom import write_dicom as write_dicom
from histomammo.datasets.synthetic.glas import draw_glands as draw_glands
from histomammo.datasets.synthetic.glas import make_glas as make_glas
from histomammo.datasets.synthetic.mammo import SyntheticMammogram as SyntheticMammogram
from histomammo.datasets.synthetic.mammo import screening_mammogram as screening_mammogram
from histomammo.datasets.synthetic.mammo_cbis_ddsm import make_cbis_ddsm as make_cbis_ddsm
from histomammo.datasets.synthetic.mammo_inbreast import make_inbreast as make_inbreast
from histomammo.datasets.synthetic.mammo_screening import (
    make_screening_archive as make_screening_archive,
)
from histomammo.datasets.synthetic.pcam import make_pcam as make_pcam
from histomammo.datasets.synthetic.pcam_slides import SyntheticSlide as SyntheticSlide
from histomammo.datasets.synthetic.pcam_slides import make_slide as make_slide

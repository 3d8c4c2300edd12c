"""Public names of ``histomammo.io``: the one list, read by type checkers and, through
[`attach_stub`][histomammo._lazy.attach_stub], by the lazy ``__init__.py``."""

from histomammo.io import dicom as dicom
from histomammo.io import hdf5 as hdf5
from histomammo.io import tiff as tiff
from histomammo.io.dicom import DicomImage as DicomImage
from histomammo.io.dicom import read_dicom as read_dicom
from histomammo.io.hdf5 import H5Array as H5Array
from histomammo.io.tiff import TiffImage as TiffImage
from histomammo.io.tiff import TiffLevel as TiffLevel

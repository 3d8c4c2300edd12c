"""Readers of the file formats the datasets come in: DICOM, large TIFF, HDF5.

Arrays in, arrays out: every reader returns numpy arrays in the file's own dtype
(unless asked otherwise) and raises
[`histomammo.errors.DataFormatError`][histomammo.errors.DataFormatError]
naming the file when the file is not what its format promises.
"""

from histomammo._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    submodules=["dicom", "hdf5", "tiff"],
    attributes={
        "dicom": ["DicomImage", "read_dicom"],
        "tiff": ["TiffImage", "TiffLevel"],
        "hdf5": ["H5Array"],
    },
)

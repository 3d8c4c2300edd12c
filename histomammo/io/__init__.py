"""Readers of the file formats the datasets come in: DICOM, large TIFF, HDF5.

Arrays in, arrays out: every reader returns numpy arrays in the file's own dtype
(unless asked otherwise) and raises
[`histomammo.errors.DataFormatError`][histomammo.errors.DataFormatError]
naming the file when the file is not what its format promises.
"""

from histomammo._lazy import attach_stub

# the public names are listed once, in __init__.pyi (read by type checkers too)
__getattr__, __dir__, __all__ = attach_stub(__name__, __file__)

"""12-bit lossy JPEG (JPEG Extended, process 2/4) in DICOM: the decoder extra and one repair.

The ``dicom`` extra (``pip install 'histomammo[dicom]'``) installs pylibjpeg with its
libjpeg plugin, which pydicom uses for JPEG Baseline, Extended, Lossless and JPEG-LS.
(python-gdcm was measured too: pydicom's gdcm plugin refuses 12-bit JPEG Extended
outright, see ``docs/io/dicom.md``.)

Some archive files write a sequential JPEG scan header with spectral selection
``Ss``/``Se`` other than 0/63 (DICOM WG04's ``NM1_JPLY``, pydicom's ``JPEG-lossy.dcm``:
``Se = 0``). Those fields mean nothing in sequential mode; IJG libjpeg ignores them, but
libjpeg (Thomas Richter's, pylibjpeg's plugin) refuses the stream. [`repair_sequential_scans`][histomammo.io._dicom_jpeg.repair_sequential_scans]
writes the values the standard requires (ITU T.81 B.2.3: ``Ss = 0``, ``Se = 63``,
``Ah = Al = 0`` for sequential DCT) so that the frame decodes; nothing else is changed.
"""

from __future__ import annotations

__all__ = ["DICOM_EXTRA_HINT", "EXTRA_SYNTAXES", "repair_sequential_scans"]

#: What to install for the transfer syntaxes the ``dicom`` extra decodes.
DICOM_EXTRA_HINT = ("pip install 'histomammo[dicom]' (pylibjpeg and pylibjpeg-libjpeg)")

#: JPEG Baseline, Extended, Lossless (process 14 and SV1), JPEG-LS lossless and near-lossless.
EXTRA_SYNTAXES = frozenset({
    "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81",
})

_SEQUENTIAL_DCT = (0xC0, 0xC1)  # SOF0 baseline, SOF1 extended sequential (Huffman)
_SOS, _EOI = 0xDA, 0xD9
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM and RSTn carry no length


def repair_sequential_scans(frame: bytes) -> bytes:
    """``frame`` with every sequential-DCT scan header's ``Ss, Se, Ah/Al`` set to 0, 63, 0.

    Returns ``frame`` itself when it is not a sequential DCT JPEG stream or needs no
    repair; stops at anything it cannot parse (the decoder then reports it).

    Examples
    --------
    >>> from pydicom import dcmread
    >>> from pydicom.data import get_testdata_file
    >>> from pydicom.encaps import generate_frames
    >>> lossy = dcmread(get_testdata_file("JPEG-lossy.dcm"))
    >>> fixed = dcmread(get_testdata_file("JPGExtended.dcm"))  # pydicom's fixed copy
    >>> frame = next(generate_frames(lossy.PixelData, number_of_frames=1))
    >>> repair_sequential_scans(frame) == next(generate_frames(fixed.PixelData, number_of_frames=1))
    True
    """
    data = bytearray(frame)
    if data[:2] != b"\xff\xd8":
        return frame
    position, sequential, changed = 2, False, False
    while position + 4 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == _EOI:
            break
        if marker in _STANDALONE:
            position += 2
            continue
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            sequential = marker in _SEQUENTIAL_DCT
        if marker == _SOS and sequential and position + 4 + length - 2 <= len(data):
            spectral = position + 4 + 1 + 2 * data[position + 4]  # after Ns and its components
            if bytes(data[spectral : spectral + 3]) != b"\x00\x3f\x00":
                data[spectral : spectral + 3] = b"\x00\x3f\x00"
                changed = True
        position += 2 + length
        if marker == _SOS:
            position = _after_entropy_data(data, position)
    return bytes(data) if changed else frame


def _after_entropy_data(data: bytearray, position: int) -> int:
    """Index of the first marker after a scan's entropy-coded data (RSTn belong to it)."""
    while position + 1 < len(data):
        if data[position] == 0xFF and data[position + 1] not in (0x00, 0xFF) and not (
                0xD0 <= data[position + 1] <= 0xD7):
            return position
        position += 1
    return len(data)

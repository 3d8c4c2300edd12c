"""pylibjpeg (+ pylibjpeg-libjpeg) vs python-gdcm on pydicom's 12-bit JPEG Extended test files.

Run: PYTHONPATH=. python benchmarks/measure_jpeg_decoders.py   (both decoders installed)
Agreement between the two decoders, against pydicom's reference values where its own tests
pin them, and the median decode time of 20 runs of each.
"""
import time

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.pixels import pixel_array


def _gdcm_direct(path):
    import gdcm

    reader = gdcm.ImageReader()
    reader.SetFileName(path)
    if not reader.Read():
        raise RuntimeError("gdcm cannot read " + path)
    image = reader.GetImage()
    rows, cols = image.GetDimension(1), image.GetDimension(0)
    buffer = image.GetBuffer().encode("utf-8", errors="surrogateescape")
    return np.frombuffer(buffer, dtype="<u2").reshape(rows, cols)


for name in ("JPEG-lossy.dcm", "JPGExtended.dcm"):
    path = get_testdata_file(name)
    ds = pydicom.dcmread(path)
    arrays, times = {}, {}
    for plugin in ("pylibjpeg", "gdcm"):
        runs = []
        try:
            for _ in range(20):
                start = time.perf_counter()
                arrays[plugin] = pixel_array(path, decoding_plugin=plugin)
                runs.append(time.perf_counter() - start)
        except RuntimeError as err:
            print(f"{name}: {plugin} fails: {str(err).splitlines()[-1].strip()}")
            continue
        times[plugin] = 1000 * float(np.median(runs))
    for _ in range(20):  # gdcm called directly, past pydicom's plugin (which refuses 12-bit)
        start = time.perf_counter()
        direct = _gdcm_direct(path)
        runs.append(time.perf_counter() - start)
    print(f"  gdcm called directly: shape {direct.shape}, range {direct.min()}..{direct.max()}, "
          f"median ms {1000 * float(np.median(runs[-20:])):.2f}")
    if "pylibjpeg" in arrays:
        diff = np.abs(arrays["pylibjpeg"].astype(int) - direct.astype(int))
        print(f"  pylibjpeg vs gdcm direct: max |diff| {diff.max()}, differing pixels "
              f"{int((diff > 0).sum())} of {diff.size}")
    if not arrays:
        continue
    if len(arrays) < 2:
        only = next(iter(arrays))
        print(f"  {only} decodes it: shape {arrays[only].shape}, dtype {arrays[only].dtype}, "
              f"range {arrays[only].min()}..{arrays[only].max()}, median ms {times[only]:.2f}")
        if name == "JPEG-lossy.dcm":
            print("  pixels [420, 140:145]:", arrays[only][420, 140:145].tolist(),
                  "[230, 120:125]:", arrays[only][230, 120:125].tolist())
        continue
    a, b = arrays["pylibjpeg"].astype(int), arrays["gdcm"].astype(int)
    print(f"{name}: {ds.file_meta.TransferSyntaxUID.name}, BitsStored {ds.BitsStored}, "
          f"shape {a.shape}, dtype {arrays['gdcm'].dtype}; pylibjpeg vs gdcm: identical "
          f"{np.array_equal(a, b)}, max |diff| {np.abs(a - b).max()}, "
          f"differing pixels {int((a != b).sum())}; median ms pylibjpeg {times['pylibjpeg']:.2f} "
          f"gdcm {times['gdcm']:.2f}")
    if name == "JPEG-lossy.dcm":  # pydicom's tests pin these values (test_pylibjpeg / test_gdcm)
        print("  reference pixels [420, 140:145]:", a[420, 140:145].tolist(),
              "[230, 120:125]:", a[230, 120:125].tolist())

"""What the thesis's "saturated" marker removal blanks inside the breast, windowed vs stored values.

Run: PYTHONPATH=. python benchmarks/measure_marker_removal.py
For every DICOM of a synthetic INbreast and CBIS-DDSM tree (the writers' defaults), the breast is
the library's breast_mask of the stored values; "blanked" is the share of breast pixels that
remove_markers(method="saturated") sets to the background, on (a) the stored values, (b) the
display values the datasets handed to transforms (the file's window: the full stored range in
the synthetic files), (c) display values under a tissue window (centre/width spanning the
breast's 2nd..98th percentile, as a scanner's FOR PRESENTATION window does).
"""
import sys
import tempfile
from pathlib import Path

import numpy as np

from histomammo.datasets import INbreast
from histomammo.datasets.synthetic import make_cbis_ddsm, make_inbreast, write_dicom
from histomammo.io.dicom import read_dicom
from histomammo.transforms.mammo import breast_mask, remove_markers


def blanked(image, breast):
    out = remove_markers(image, method="saturated")
    return float(((out != image) & breast).sum() / breast.sum())


def run(name, files):
    rows = []
    for path in files:
        raw = read_dicom(path, raw=True).pixels
        if raw.max() <= 255:  # a CBIS-DDSM binary ROI mask, not a mammogram
            continue
        breast = breast_mask(raw)
        if breast is None or breast.sum() == 0:
            continue
        display = read_dicom(path).pixels
        low, high = np.percentile(raw[breast], (2, 98))
        tissue = read_dicom(path, voi=((low + high) / 2, max(high - low, 1.0))).pixels
        rows.append((blanked(raw, breast), blanked(display, breast), blanked(tissue, breast)))
    rows = np.array(rows)
    print(f"{name}: {len(rows)} mammograms; mean % of breast pixels blanked "
          f"stored {100 * rows[:, 0].mean():.3f}  file-window {100 * rows[:, 1].mean():.3f}  "
          f"tissue-window {100 * rows[:, 2].mean():.3f}  (max {100 * rows[:, 2].max():.2f})")


def through_dataset(root):
    """The datasets' own images (before: display values; after: the default, stored values)
    through the thesis's marker removal, on an INbreast copy whose files carry a tissue window."""
    for path in sorted((root / "AllDICOMs").glob("*.dcm")):
        raw = read_dicom(path, raw=True)
        breast = breast_mask(raw.pixels)
        low, high = np.percentile(raw.pixels[breast], (2, 98))
        write_dicom(path, raw.pixels, bits_stored=14, laterality=raw.laterality, view=raw.view,
                    window=((low + high) / 2, max(high - low, 1.0)))
    for pixels in ("display", "raw"):
        try:
            data = INbreast(root, pixels=pixels)
        except TypeError:  # before the change: no pixels argument, display values only
            if pixels == "raw":
                continue
            data = INbreast(root)
        shares = []
        for i in range(len(data)):
            image = data[i][0][0].numpy()
            breast = breast_mask(read_dicom(data.records[i].path, raw=True).pixels)
            shares.append(blanked(image, breast))
        print(f"INbreast dataset, tissue-windowed files, pixels={pixels!r}: mean % of breast "
              f"pixels blanked {100 * np.mean(shares):.3f} (max {100 * np.max(shares):.2f})")


root = Path(tempfile.mkdtemp())
inbreast = make_inbreast(root / "inbreast", n_patients=10, shape=(512, 416), seed=0)
run("INbreast", sorted((inbreast / "AllDICOMs").glob("*.dcm")))
cbis = make_cbis_ddsm(root / "cbis", n_patients=12, shape=(512, 320), seed=0)
full = [p for p in sorted((cbis / "CBIS-DDSM").rglob("*.dcm"))
        if read_dicom(p, raw=True).pixels.shape == (512, 320)]  # masks (0/255) skipped in run
run("CBIS-DDSM", full)
through_dataset(inbreast)
sys.exit(0)

"""What the thesis's "saturated" marker removal blanks inside the breast, windowed vs stored values.

Run: PYTHONPATH=. python changes/measure_saturated.py
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

from histomammo.datasets.synthetic import make_cbis_ddsm, make_inbreast
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


root = Path(tempfile.mkdtemp())
inbreast = make_inbreast(root / "inbreast", n_patients=10, shape=(512, 416), seed=0)
run("INbreast", sorted((inbreast / "AllDICOMs").glob("*.dcm")))
cbis = make_cbis_ddsm(root / "cbis", n_patients=12, shape=(512, 320), seed=0)
full = [p for p in sorted((cbis / "CBIS-DDSM").rglob("*.dcm")) if "full mammogram" in str(p)]
run("CBIS-DDSM", full)
sys.exit(0)

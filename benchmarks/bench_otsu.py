"""The in-house Otsu (transforms/_mammo_otsu.py) against scikit-image's threshold_otsu.

Run: PYTHONPATH=. python benchmarks/bench_otsu.py
Equality on the inputs each call site uses (float saturation in [0, 1] as tissue.py;
uint16 12-bit mammograms as the Otsu crop) and the median time of each.
"""
import timeit

import numpy as np
from skimage.color import rgb2hsv
from skimage.filters import threshold_otsu

from histomammo.datasets.synthetic import screening_mammogram
from histomammo.transforms.mammo import otsu_threshold

rng = np.random.default_rng(0)
float_equal = 0
for _trial in range(200):
    rgb = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    rgb[: rng.integers(1, 64)] = (235, 230, 240)  # background
    saturation = rgb2hsv(rgb)[..., 1]
    float_equal += otsu_threshold(saturation) == threshold_otsu(saturation)
int_equal = 0
for _trial in range(20):
    image = screening_mammogram((512, 416), rng).pixels
    int_equal += otsu_threshold(image) == threshold_otsu(image)
print(f"equal thresholds: float saturation {float_equal}/200, uint16 mammograms {int_equal}/20")

saturation = rgb2hsv(rng.integers(0, 256, (1024, 1024, 3), dtype=np.uint8))[..., 1]
mammogram = screening_mammogram((4096, 3328), rng).pixels
for name, data in (("float 1024x1024", saturation), ("uint16 4096x3328", mammogram)):
    ours = min(timeit.repeat(lambda data=data: otsu_threshold(data), number=3, repeat=5)) / 3
    theirs = min(timeit.repeat(lambda data=data: threshold_otsu(data), number=3, repeat=5)) / 3
    print(f"{name}: histomammo {1000 * ours:.1f} ms, scikit-image {1000 * theirs:.1f} ms")

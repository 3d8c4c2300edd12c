"""Whole-slide inference: any classifier, segmenter or detector over a gigapixel slide.

``classify_slide`` (a ``Heatmap`` of patch probabilities), ``segment_slide``
(blended per-pixel probabilities, in memory or written tile by tile to ``.zarr`` / ``.tif``),
``detect_slide`` (boxes merged across tile borders; ``write_geojson`` for QuPath) and
``predict_slides`` (many slides, resumable, sharded across ``torchrun`` ranks).
"""

# Imported eagerly (the package itself loads only when ``histomammo.inference`` is first used),
# so that type checkers and the API docs see every name.
from histomammo.inference._sinks import OutputExistsError
from histomammo.inference._source import MPP_TOLERANCE, slide_mpp
from histomammo.inference.detect import detect_slide, write_geojson
from histomammo.inference.heatmap import Heatmap, classify_slide
from histomammo.inference.predict import predict_slides
from histomammo.inference.segment import segment_slide, tile_weights

__all__ = [
    "Heatmap", "MPP_TOLERANCE", "OutputExistsError", "classify_slide", "detect_slide",
    "predict_slides", "segment_slide", "slide_mpp", "tile_weights", "write_geojson",
]

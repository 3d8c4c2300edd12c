"""Whole-slide inference: any classifier, segmenter or detector over a gigapixel slide.

``classify_slide`` (a ``Heatmap`` of patch probabilities), ``segment_slide``
(blended per-pixel probabilities, in memory or written tile by tile to ``.zarr`` / ``.tif``),
``detect_slide`` (boxes merged across tile borders; ``write_geojson`` for QuPath) and
``predict_slides`` (many slides, resumable, sharded across ``torchrun`` ranks).
"""

from histomammo._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    attributes={
        "_source": ["MPP_TOLERANCE", "slide_mpp"],
        "heatmap": ["Heatmap", "classify_slide"],
        "segment": ["segment_slide", "tile_weights"],
        "_sinks": ["OutputExistsError"],
        "detect": ["detect_slide", "write_geojson"],
        "predict": ["predict_slides"],
    },
)

"""Demo stage ``mammo_data``: from a folder of DICOMs to tensors a classifier can eat.

It writes a synthetic INbreast tree, indexes its headers in SQLite (twice: the second build
reads nothing), reads it with [`INbreast`][histomammo.datasets.INbreast], preprocesses a
malignant MLO view with both of the thesis's pipelines and saves figure-5.1/5.2-style
pictures; then it writes a synthetic screening archive and matches its diagnoses to its
studies, reporting what each matching rule did.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["run"]

logger = logging.getLogger("histomammo.demo.mammo_data")


def _pictures(out: Path, seed: int) -> dict[str, Any]:
    import matplotlib.pyplot as plt

    from histomammo.datasets.synthetic import screening_mammogram
    from histomammo.plot import plot_crop_steps, plot_naive_steps, save_figure
    from histomammo.transforms.mammo import otsu_crop_stages, preprocess_naive, remove_markers

    case = screening_mammogram((1024, 832), np.random.default_rng(seed), laterality="R",
                               view="MLO", malignant=True, grey_marker=True)
    naive = preprocess_naive(case.pixels, laterality="R", factor=2)
    figure = plot_naive_steps(case.pixels, naive)
    save_figure(figure, out / "naive_steps.png", dpi=80, tight=True)
    plt.close(figure)
    results = {}
    for method in ("saturated", "outside_breast"):
        cleaned = remove_markers(case.pixels, method=method)
        stages = otsu_crop_stages(cleaned)
        figure = plot_crop_steps(case.pixels, stages, cleaned=cleaned)
        save_figure(figure, out / f"crop_steps_{method}.png", dpi=80, tight=True)
        plt.close(figure)
        outside = ~case.breast_mask
        results[method] = {"box": list(stages.box), "components": len(stages.boxes),
                           "marker_pixels_left": int((cleaned[outside] > 0.3 * cleaned.max()).sum())}
    return results


def _inbreast(out: Path, seed: int) -> dict[str, Any]:
    from histomammo.datasets import INbreast, MammoIndex
    from histomammo.datasets.synthetic import make_inbreast
    from histomammo.transforms.mammo import PreprocessCrop, PreprocessNaive

    root = make_inbreast(out / "inbreast", n_patients=6, shape=(512, 416), seed=seed)
    with MammoIndex(out / "inbreast_index.sqlite") as index:
        first = index.build(root, progress=False)
        second = index.build(root, progress=False)
        mlo_left = len(index.query(view="MLO", laterality="L"))
    shapes = {}
    for name, transform in (("naive", PreprocessNaive(factor=1)), ("crop", PreprocessCrop())):
        data = INbreast(root, label="malignant", transform=transform, split="train", seed=seed)
        image, _ = data[0]
        shapes[name] = list(image.shape)
    data = INbreast(root, label="malignant")
    return {"images": len(list((root / "AllDICOMs").glob("*.dcm"))), "index_added": first.added,
            "index_second_build_read": second.read, "mlo_left": mlo_left,
            "malignant_samples": int(sum(data.labels)), "samples": len(data),
            "tensor_shapes": shapes}


def _screening(out: Path, seed: int) -> dict[str, Any]:
    from histomammo.datasets import ScreeningArchive
    from histomammo.datasets.synthetic import make_screening_archive

    tree, table = make_screening_archive(out / "screening", n_patients=10, shape=(96, 80), seed=seed)
    archive = ScreeningArchive(tree, diagnoses_csv=table, index=out / "screening_index.sqlite")
    report = archive.report
    return {"diagnoses": report.diagnoses, "same_year": report.same_year,
            "next_year": report.next_year, "several_studies": report.several_studies,
            "unmatched": len(report.unmatched), "interval_excluded": report.interval_excluded,
            "images_without_diagnosis": report.images_without_diagnosis, "samples": len(archive),
            "cancer_samples": int(sum(archive.labels))}


def run(out: Path, seed: int) -> dict[str, Any]:
    """Write, index, read and preprocess synthetic mammography data; save the pictures.

    Parameters
    ----------
    out : Path
        The stage's own output folder.
    seed : int
        Seed of every random draw.

    Returns
    -------
    dict
        ``{"pictures": ..., "inbreast": ..., "screening": ...}``.
    """
    results = {"pictures": _pictures(out, seed), "inbreast": _inbreast(out, seed),
               "screening": _screening(out, seed)}
    logger.info("mammo_data: %s", results)
    return results

"""The PCam report's published numbers (``seeds/pcam_gcnn.txt``), each with its source."""

from __future__ import annotations

from typing import Any

__all__ = ["PUBLISHED"]

#: The seed's results (accuracy %, AUC), source and section; the G-CNN never learned.
PUBLISHED: tuple[dict[str, Any], ...] = (
    {"model": "Inception v3 transfer, run 1", "accuracy": 81.49, "auc": 0.87,
     "source": "seeds/pcam_gcnn.txt, sections 2.3 and 3.2.6"},
    {"model": "Inception v3 transfer, run 2", "accuracy": 78.12, "auc": 0.85,
     "source": "seeds/pcam_gcnn.txt, sections 2.3 and 3.2.6"},
    {"model": "G-CNN (P4, seed recipe)", "accuracy": 50.0, "auc": None,
     "source": "seeds/pcam_gcnn.txt, sections 3.3.4 and 4.1 ('stuck around 50% accuracy')"},
    {"model": "P4M-DenseNet (Veeling et al. 2018)", "accuracy": 89.8, "auc": 0.96,
     "source": "seeds/pcam_gcnn.txt, section 2.3 (the PCam benchmark, [14])"},
)

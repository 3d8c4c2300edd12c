"""The GlaS@MICCAI 2015 challenge table (the seed's figure 5) as data, and ranking against it.

Source: ``glas_unet_maskrcnn.txt``, figure 5, which reproduces the challenge's results
(Sirinukunwattana et al., "Gland segmentation in colon histology images: The GlaS challenge
contest", Medical Image Analysis 35, 2017) and adds the seed's own two rows.

The seed's rows (``DTU-UNET``, ``DTU-MASKRCNN``) were scored with that project's own code —
pixel-level F1, glands re-labelled by connectivity, bounding-box Hausdorff and per-image means
at 512x512 — not with the official evaluation, so they are kept but flagged
``official=False`` and left out of rankings unless asked for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "PAPER_TEST_LOSS_AND_COUNT",
    "PAPER_UNET_VAL_LOSS",
    "GLAS2015_LEADERBOARD",
    "METRICS",
    "LeaderboardEntry",
    "rank_against_leaderboard",
]

#: The paper's U-Net validation loss: at the start, after phase 1, after phase 2 (BCE;
#: ``glas_unet_maskrcnn.txt``, section 5.3).
PAPER_UNET_VAL_LOSS = {"start": 0.69, "after_phase1": 0.42, "after_phase2": 0.29}
#: The seed's own test losses (BCE, as the paper computed them at 512x512) and count scores on
#: test parts A and B (``glas_unet_maskrcnn.txt``, figure 5, bottom lines).
PAPER_TEST_LOSS_AND_COUNT = {
    "DTU-UNET": {"loss": {"A": 0.403, "B": 0.380}, "count": {"A": 0.211, "B": 0.127}},
    "DTU-MASKRCNN": {"loss": {"A": 0.540, "B": 0.540}, "count": {"A": 0.825, "B": 0.842}},
}

#: ``(metric, test part)`` columns in the table's order; F1 and Dice: higher is better.
METRICS: tuple[tuple[str, str], ...] = tuple(
    (metric, part)
    for metric in ("f1", "object_dice", "object_hausdorff")
    for part in ("A", "B")
)


@dataclass(frozen=True)
class LeaderboardEntry:
    """One row of figure 5: scores on test parts A and B, and the published ranks."""

    name: str
    scores: Mapping[tuple[str, str], float]
    published_ranks: Mapping[tuple[str, str], int]
    published_sum: int
    official: bool = True


def _entry(name: str, row: Sequence[float], official: bool = True) -> LeaderboardEntry:
    scores = dict(zip(METRICS, row[0:12:2], strict=True))
    ranks = dict(zip(METRICS, (int(r) for r in row[1:12:2]), strict=True))
    return LeaderboardEntry(name, scores, ranks, int(row[-1]), official)


# name: F1 A, rank, F1 B, rank, Dice A, rank, Dice B, rank, Hausdorff A, rank, Hausdorff B,
# rank, sum of ranks (figure 5, ranks over all twelve rows)
_ROWS = {
    "DTU-MASKRCNN": (0.922, 1, 0.906, 1, 0.905, 1, 0.872, 1, 37.529, 1, 74.287, 1, 6),
    "CUMedVision2": (0.912, 2, 0.716, 5, 0.897, 2, 0.781, 7, 45.418, 2, 160.347, 8, 26),
    "ExB1": (0.891, 5, 0.703, 6, 0.882, 5, 0.786, 4, 57.413, 7, 145.575, 3, 30),
    "ExB3": (0.896, 3, 0.719, 4, 0.886, 3, 0.765, 8, 57.350, 6, 159.873, 7, 31),
    "Freiburg2": (0.870, 6, 0.695, 7, 0.876, 6, 0.786, 5, 57.093, 4, 148.463, 5, 33),
    "CUMedVision1": (0.868, 7, 0.769, 3, 0.867, 8, 0.800, 2, 74.596, 8, 153.646, 6, 34),
    "DTU-UNET": (0.822, 9, 0.862, 2, 0.723, 11, 0.791, 3, 126.685, 11, 138.294, 2, 38),
    "ExB2": (0.892, 4, 0.686, 8, 0.884, 4, 0.754, 9, 54.785, 3, 187.442, 10, 38),
    "Freiburg1": (0.834, 8, 0.605, 9, 0.875, 7, 0.783, 6, 57.194, 5, 146.607, 4, 39),
    "LIB": (0.777, 10, 0.306, 12, 0.781, 9, 0.617, 11, 112.706, 10, 190.447, 11, 63),
    "CVML": (0.652, 11, 0.541, 10, 0.644, 12, 0.654, 10, 155.433, 12, 176.244, 9, 64),
    "vision4GlaS": (0.635, 12, 0.527, 11, 0.737, 10, 0.610, 12, 107.491, 9, 210.105, 12, 66),
}
_UNOFFICIAL = {"DTU-MASKRCNN", "DTU-UNET"}

#: The twelve rows of figure 5, in its order.
GLAS2015_LEADERBOARD: tuple[LeaderboardEntry, ...] = tuple(
    _entry(name, row, name not in _UNOFFICIAL) for name, row in _ROWS.items()
)


def _better(metric: str, a: float, b: float) -> bool:
    return a < b if metric == "object_hausdorff" else a > b


def _competition_ranks(
    rows: Sequence[LeaderboardEntry | None], values: Sequence[float], metric: str,
    column: tuple[str, str],
) -> list[int]:
    """Standard competition ranking ("1224"); ``None`` marks the user's row.

    The table's scores are rounded to three decimals, and the challenge ranked on unrounded
    ones: where two published rows tie after rounding (ExB1 and Freiburg2, Dice on part B),
    their published order decides. A tie with the user's row is a shared rank.
    """
    ranks = []
    for row, value in zip(rows, values, strict=True):
        ahead = 0
        for row_other, other in zip(rows, values, strict=True):
            if _better(metric, other, value):
                ahead += 1
            elif other == value and row is not None and row_other is not None:
                ahead += row_other.published_ranks[column] < row.published_ranks[column]
        ranks.append(ahead + 1)
    return ranks


def rank_against_leaderboard(
    scores_a: Mapping[str, float] | None,
    scores_b: Mapping[str, float] | None,
    *,
    name: str = "yours",
    include_unofficial: bool = False,
    leaderboard: Sequence[LeaderboardEntry] = GLAS2015_LEADERBOARD,
) -> list[dict[str, object]]:
    """Rank a result on test parts A and B among the GlaS 2015 entries, as the challenge did.

    Per metric and per test part, standard competition ranking (higher F1 and object Dice
    better, lower object Hausdorff better); the six ranks are summed and the sums ranked again
    (lower is better) for the overall position.

    Parameters
    ----------
    scores_a, scores_b : mapping
        ``{"f1", "object_dice", "object_hausdorff"}`` on test parts A and B, e.g. what
        [`histomammo.metrics.segmentation.glas_metrics`][histomammo.metrics.glas_metrics] returns
        (pooled, at the images'
        original resolution, for a comparable result). ``None`` for both ranks the table alone.
    name : str
        The row's name.
    include_unofficial : bool
        Also rank against the seed's own two rows, which were not scored with the official
        evaluation.

    Returns
    -------
    list of dict
        One row per entry, best first: ``name``, ``official``, ``is_user``, ``scores`` and
        ``ranks`` (keyed ``(metric, part)``), ``sum_of_ranks`` and ``position``.

    Examples
    --------
    >>> mine = {"f1": 0.90, "object_dice": 0.89, "object_hausdorff": 50.0}
    >>> table = rank_against_leaderboard(mine, mine)
    >>> [row["position"] for row in table if row["is_user"]]
    [1]
    """
    entries = [e for e in leaderboard if e.official or include_unofficial]
    rows: list[LeaderboardEntry | None] = list(entries)
    scores: list[dict[tuple[str, str], float]] = [dict(e.scores) for e in entries]
    if (scores_a is None) != (scores_b is None):
        raise ValueError("rank_against_leaderboard: pass scores_a and scores_b (test parts A "
                         "and B), or neither to rank the table alone; got only one")
    if scores_a is not None and scores_b is not None:
        user = {(m, "A"): float(scores_a[m]) for m, _ in METRICS[::2]}
        user.update({(m, "B"): float(scores_b[m]) for m, _ in METRICS[::2]})
        rows.append(None)
        scores.append(user)
    ranks: list[dict[tuple[str, str], int]] = [{} for _ in rows]
    for column in METRICS:
        column_ranks = _competition_ranks(rows, [s[column] for s in scores], column[0], column)
        for row_ranks, rank in zip(ranks, column_ranks, strict=True):
            row_ranks[column] = rank
    sums = [sum(r.values()) for r in ranks]
    table = [
        {
            "name": name if row is None else row.name,
            "official": True if row is None else row.official,
            "is_user": row is None,
            "scores": score,
            "ranks": rank,
            "sum_of_ranks": total,
            "position": 1 + sum(other < total for other in sums),
        }
        for row, score, rank, total in zip(rows, scores, ranks, sums, strict=True)
    ]
    return sorted(table, key=lambda r: (r["sum_of_ranks"], not r["is_user"]))

"""The GlaS 2015 leaderboard as a figure, the user's row highlighted (the seed's figure 5)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["leaderboard"]

_HEADERS = ("F1 A", "F1 B", "Dice A", "Dice B", "Hausdorff A", "Hausdorff B")


def _cell(score: float, rank: int, hausdorff: bool) -> str:
    if math.isinf(score):
        return f"inf ({rank})"
    return f"{score:.3f} ({rank})" if not hausdorff else f"{score:.1f} ({rank})"


def leaderboard(table: Sequence[dict[str, Any]], *, ax: Any = None, title: str | None = None):
    """Draw a ranked table from :func:`~histomammo.metrics.glas_leaderboard.rank_against_leaderboard`.

    Each cell shows the score and, in brackets, its rank; the user's row is highlighted and
    unofficial rows are drawn in grey italics.

    Parameters
    ----------
    table : sequence of dict
        The rows ``rank_against_leaderboard`` returns.
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made when omitted.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from histomammo.metrics.glas_leaderboard import rank_against_leaderboard
    >>> mine = {"f1": 0.8, "object_dice": 0.85, "object_hausdorff": 60.0}
    >>> fig = leaderboard(rank_against_leaderboard(mine, mine))  # doctest: +SKIP
    """
    import matplotlib.pyplot as plt

    from histomammo.metrics.glas_leaderboard import METRICS

    if ax is None:
        fig, ax = plt.subplots(figsize=(11, 0.3 * (len(table) + 2)))
    else:
        fig = ax.figure
    ax.axis("off")
    cells = [
        [
            _cell(row["scores"][c], row["ranks"][c], c[0] == "object_hausdorff")
            for c in METRICS
        ]
        + [str(row["sum_of_ranks"]), str(row["position"])]
        for row in table
    ]
    drawn = ax.table(
        cellText=cells,
        rowLabels=[row["name"] for row in table],
        colLabels=[*_HEADERS, "Sum of ranks", "Position"],
        cellLoc="center",
        bbox=(0.14, 0.0, 0.86, 1.0),  # room on the left for the row labels
    )
    drawn.auto_set_font_size(False)
    drawn.set_fontsize(9)
    for i, row in enumerate(table, start=1):
        for j in range(-1, len(_HEADERS) + 2):
            cell = drawn[i, j]
            if row["is_user"]:
                cell.set_facecolor("#ffe9a8")
                cell.get_text().set_fontweight("bold")
            elif not row["official"]:
                cell.get_text().set_color("grey")
                cell.get_text().set_fontstyle("italic")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig

"""The GlaS 2015 leaderboard as a figure, the user's row highlighted (the seed's figure 5)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from histomammo.plot._figure import new_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_leaderboard"]

# column headers of the challenge's metrics; another metric keeps its own name
_SHORT = {"f1": "F1", "object_dice": "Dice", "object_hausdorff": "Hausdorff"}


def _cell(score: float, rank: int, hausdorff: bool) -> str:
    if math.isinf(score):
        return f"inf ({rank})"
    return f"{score:.3f} ({rank})" if not hausdorff else f"{score:.1f} ({rank})"


def plot_leaderboard(
    table: Sequence[dict[str, Any]], *, title: str | None = None, ax: Axes | None = None
) -> Figure:
    """Draw a ranked GlaS 2015 table with the user's row highlighted (the seed's figure 5).

    Each cell shows the score and, in brackets, its rank; the user's row is highlighted and
    unofficial rows are drawn in grey italics.

    Parameters
    ----------
    table : sequence of dict
        The rows ``rank_against_leaderboard`` returns: ``"name"``, ``"scores"`` and
        ``"ranks"`` keyed by ``(metric, part)`` (metric ``"f1"``, ``"object_dice"`` or
        ``"object_hausdorff"``, part ``"A"`` or ``"B"``; the columns are the first row's
        ``"ranks"`` keys, in their order), ``"sum_of_ranks"``,
        ``"position"``, ``"is_user"`` and ``"official"``.
    title : str, optional
        Figure title.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> columns = [(m, p) for m in ("f1", "object_dice", "object_hausdorff") for p in "AB"]
    >>> row = {"name": "mine", "scores": dict.fromkeys(columns, 0.9),
    ...        "ranks": dict.fromkeys(columns, 1), "sum_of_ranks": 6, "position": 1,
    ...        "is_user": True, "official": False}
    >>> fig = plot_leaderboard([row], title="GlaS 2015")
    >>> fig.axes[0].tables[0][1, 0].get_text().get_text()
    '0.900 (1)'
    """
    figure, ax, created = new_axes(ax, (11, 0.3 * (len(table) + 2)))
    from matplotlib.transforms import Bbox  # matplotlib is loaded: there is an axes
    ax.axis("off")
    # the columns are the rows' own: (metric, part) in the order of the first row's ranks
    columns = list(table[0]["ranks"]) if table else []
    headers = [f"{_SHORT.get(metric, metric)} {part}" for metric, part in columns]
    cells = [
        [
            _cell(row["scores"][c], row["ranks"][c], c[0] == "object_hausdorff")
            for c in columns
        ]
        + [str(row["sum_of_ranks"]), str(row["position"])]
        for row in table
    ]
    drawn = ax.table(
        cellText=cells,
        rowLabels=[row["name"] for row in table],
        colLabels=[*headers, "Sum of ranks", "Position"],
        cellLoc="center",
        bbox=Bbox.from_bounds(0.14, 0.0, 0.86, 1.0),  # room on the left for the row labels
    )
    drawn.auto_set_font_size(False)
    drawn.set_fontsize(9)
    for i, row in enumerate(table, start=1):
        for j in range(-1, len(headers) + 2):
            cell = drawn[i, j]
            if row["is_user"]:
                cell.set_facecolor("#ffe9a8")
                cell.get_text().set_fontweight("bold")
            elif not row["official"]:
                cell.get_text().set_color("grey")
                cell.get_text().set_fontstyle("italic")
    if title:
        ax.set_title(title)
    if created:
        figure.tight_layout()
    return figure

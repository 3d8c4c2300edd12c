"""plot.plot_leaderboard draws the ranked table with the user's row highlighted."""

from __future__ import annotations

import pytest

from histomammo.systems.glas import rank_against_leaderboard

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")


def test_smoke(tmp_path):
    from histomammo.plot import plot_leaderboard

    mine = {"f1": 0.85, "object_dice": 0.86, "object_hausdorff": float("inf")}
    table = rank_against_leaderboard(mine, mine, include_unofficial=True)
    fig = plot_leaderboard(table, title="GlaS 2015")
    drawn = fig.axes[0].tables[0]
    user_row = 1 + [row["is_user"] for row in table].index(True)
    assert drawn[user_row, 0].get_text().get_fontweight() == "bold"
    assert drawn[user_row, 4].get_text().get_text().startswith("inf")
    # the columns come from the rows (plot does not import systems' METRICS)
    assert [drawn[0, j].get_text().get_text() for j in range(6)] == [
        "F1 A", "F1 B", "Dice A", "Dice B", "Hausdorff A", "Hausdorff B"]
    fig.savefig(tmp_path / "table.png")
    assert (tmp_path / "table.png").stat().st_size > 0

"""The GlaS 2015 table as data and the challenge's ranking."""

from __future__ import annotations

import math

import pytest

from histomammo.systems.glas import (
    GLAS2015_LEADERBOARD,
    METRICS,
    rank_against_leaderboard,
)


def test_table_is_figure_5():
    assert len(GLAS2015_LEADERBOARD) == 12
    by_name = {e.name: e for e in GLAS2015_LEADERBOARD}
    assert by_name["CUMedVision2"].scores[("object_hausdorff", "B")] == 160.347
    assert {e.name for e in GLAS2015_LEADERBOARD if not e.official} == {
        "DTU-UNET", "DTU-MASKRCNN",
    }


def test_reproduces_figure_5_ranks_and_sums_with_the_unofficial_rows():
    table = rank_against_leaderboard(None, None, include_unofficial=True)
    by_name = {e.name: e for e in GLAS2015_LEADERBOARD}
    assert len(table) == 12
    for row in table:
        published = by_name[row["name"]]
        assert row["ranks"] == dict(published.published_ranks), row["name"]
        assert row["sum_of_ranks"] == published.published_sum
    positions = {row["name"]: row["position"] for row in table}
    # the seed: "The U-Net implementation ranks 7 out of 12" (tied with ExB2 on 38)
    assert positions["DTU-UNET"] == positions["ExB2"] == 7
    assert positions["DTU-MASKRCNN"] == 1


def test_official_rows_only_by_default():
    table = rank_against_leaderboard(None, None)
    assert [row["name"] for row in table][:2] == ["CUMedVision2", "ExB1"]
    assert len(table) == 10
    assert table[0]["ranks"][("f1", "A")] == 1


def test_user_entry_is_ranked_with_competition_ties():
    exb1 = {e.name: e for e in GLAS2015_LEADERBOARD}["ExB1"]
    a = {m: exb1.scores[(m, "A")] for m, _ in METRICS[::2]}
    b = {m: exb1.scores[(m, "B")] for m, _ in METRICS[::2]}
    table = rank_against_leaderboard(a, b, name="copy of ExB1")
    user = next(row for row in table if row["is_user"])
    original = next(row for row in table if row["name"] == "ExB1")
    assert user["ranks"] == original["ranks"]  # shared ranks
    assert user["position"] == original["position"]
    assert table.index(user) < table.index(original)


def test_worst_possible_entry_is_last():
    worst = {"f1": 0.0, "object_dice": 0.0, "object_hausdorff": math.inf}
    table = rank_against_leaderboard(worst, worst)
    assert table[-1]["is_user"] and table[-1]["position"] == 11
    assert table[-1]["sum_of_ranks"] == 6 * 11


def test_missing_metric_is_an_error():
    with pytest.raises(KeyError):
        rank_against_leaderboard({"f1": 1.0}, {"f1": 1.0})


def test_one_part_alone_is_refused():
    mine = {"f1": 0.9, "object_dice": 0.89, "object_hausdorff": 50.0}
    with pytest.raises(ValueError, match="scores_a and scores_b"):
        rank_against_leaderboard(mine, None)
    with pytest.raises(ValueError, match="scores_a and scores_b"):
        rank_against_leaderboard(None, mine)
    assert len(rank_against_leaderboard(None, None)) == 10  # the official rows alone

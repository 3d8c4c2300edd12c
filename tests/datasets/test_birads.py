"""Tests of histomammo.datasets.birads: parsing and the table 4.1 follow-up label."""

from __future__ import annotations

import pytest

from histomammo.datasets.birads import BIRADS_SCORES, birads_category, follow_up, parse_birads


@pytest.mark.parametrize("value,expected", [
    ("0", "0"), (1, "1"), (" 3 ", "3"), ("4", "4"), ("4A", "4a"), ("4b", "4b"), (" 4c", "4c"),
    ("5.0", "5"), ("BI-RADS 6", "6"), ("birads2", "2"),
])
def test_parse(value, expected):
    assert parse_birads(value) == expected
    assert expected in BIRADS_SCORES


@pytest.mark.parametrize("value", ["", "7", "-1", "4d", "3a", "five", None, True, "44", "4 a b"])
def test_exception(value):
    with pytest.raises(ValueError, match="unknown BI-RADS score"):
        parse_birads(value, source="table.csv, row 3")
    with pytest.raises(ValueError, match="table.csv, row 3"):
        parse_birads(value, source="table.csv, row 3")


def test_follow_up_table_4_1():
    expected = {"0": True, "1": False, "2": False, "3": False, "4": True, "4a": True, "4b": True,
                "4c": True, "5": True, "6": True}
    assert {score: follow_up(score) for score in BIRADS_SCORES} == expected
    assert [birads_category(s) for s in ("4a", "4c", "6")] == [4, 4, 6]

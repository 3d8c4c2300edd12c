"""BI-RADS assessment categories and the thesis's follow-up label (table 4.1).

Scores are canonical strings: ``"0"`` .. ``"6"`` and the subcategories ``"4a"``, ``"4b"``,
``"4c"`` (INbreast uses them). [`parse_birads`][histomammo.datasets.birads.parse_birads] accepts the
spellings found in real
tables (integers, ``"4A"``, ``" 3 "``, ``"BI-RADS 5"``, ``"4.0"``) and refuses the rest.

Table 4.1 of the thesis: 1, 2 and 3 need no follow-up (regular or additional check-up);
0 (incomplete), 4 and 5 (biopsy) do; 6 (proven malignant) cannot come from imaging alone,
and the thesis adds it to the follow-up class for evaluation.
"""

from __future__ import annotations

import re

__all__ = ["BIRADS_SCORES", "birads_category", "follow_up", "parse_birads"]

BIRADS_SCORES: tuple[str, ...] = ("0", "1", "2", "3", "4", "4a", "4b", "4c", "5", "6")
_FOLLOW_UP_CATEGORIES = frozenset({0, 4, 5, 6})
_PATTERN = re.compile(r"^(?:bi-?rads\s*)?([0-6])(?:\.0+)?([abc])?$", re.IGNORECASE)


def parse_birads(value: object, *, source: str | None = None) -> str:
    """Canonical BI-RADS string of ``value``.

    Parameters
    ----------
    value : int or str
        ``0``..``6``, ``"4a"``/``"4b"``/``"4c"`` (any case, surrounding spaces, an optional
        ``"BI-RADS"`` prefix, ``"4.0"`` as spreadsheets write integers).
    source : str, optional
        Where the value comes from (a file and row), named in the error message.

    Returns
    -------
    str
        One of [`BIRADS_SCORES`][histomammo.datasets.birads.BIRADS_SCORES].

    Raises
    ------
    ValueError
        Anything else, including blanks, ``"7"`` and ``"4d"``.

    Examples
    --------
    >>> parse_birads(" 4A "), parse_birads(5), parse_birads("BI-RADS 2")
    ('4a', '5', '2')
    >>> parse_birads("7")
    Traceback (most recent call last):
    ...
    ValueError: unknown BI-RADS score '7'; expected 0..6, 4a, 4b or 4c
    """
    text = str(value).strip() if not isinstance(value, bool) else ""
    match = _PATTERN.match(text)
    if match is None or (match.group(2) and match.group(1) != "4"):
        where = f"{source}: " if source else ""
        raise ValueError(f"{where}unknown BI-RADS score {value!r}; expected 0..6, 4a, 4b or 4c")
    return match.group(1) + (match.group(2) or "").lower()


def birads_category(score: object) -> int:
    """The main category 0..6 (``"4b"`` -> 4).

    Examples
    --------
    >>> birads_category("4c")
    4
    """
    return int(parse_birads(score)[0])


def follow_up(score: object) -> bool:
    """Table 4.1's label: True for 0, 4 (4a-4c), 5 and 6; False for 1, 2 and 3.

    Examples
    --------
    >>> [follow_up(s) for s in ("0", "1", "2", "3", "4b", "5", "6")]
    [True, False, False, False, True, True, True]
    """
    return birads_category(score) in _FOLLOW_UP_CATEGORIES

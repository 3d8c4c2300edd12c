"""Matching per-breast diagnoses to screening studies by patient, side and year (thesis 4.2.1)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["Diagnosis", "MatchReport", "match_diagnoses"]


@dataclass(frozen=True)
class Diagnosis:
    """One row of a diagnosis table: a breast's screening round and its result."""

    patient: str
    laterality: str
    year: int
    birads: tuple[str, ...]
    cancer: bool
    interval: bool
    row: str = ""


@dataclass
class MatchReport:
    """What matching did: counts per rule and the diagnoses that found no study.

    Attributes
    ----------
    diagnoses : int
        Rows in the table.
    same_year, next_year : int
        Diagnoses matched to a study of their year, or (none that year) of the next year.
    several_studies : int
        Matches where the year held several studies (a retake); the most recent was used.
    unmatched : list of (str, str, int, str)
        ``(patient, laterality, year, reason)`` of the discarded diagnoses.
    interval_excluded : int
        Interval-cancer diagnoses left out (``include_interval=False``).
    discordant_without_arbiter : int
        Two readers disagreeing on referral with no third reading (counted as referred).
    images_without_diagnosis : int
        Indexed images no kept diagnosis was matched to (e.g. the earlier of two studies).
    """

    diagnoses: int = 0
    same_year: int = 0
    next_year: int = 0
    several_studies: int = 0
    unmatched: list[tuple[str, str, int, str]] = field(default_factory=list)
    interval_excluded: int = 0
    discordant_without_arbiter: int = 0
    images_without_diagnosis: int = 0


def match_diagnoses(
    diagnoses: Sequence[Diagnosis],
    studies: Mapping[tuple[str, str], Sequence[datetime.date]],
    report: MatchReport,
    *,
    fallback_offset: int = 1,
) -> dict[int, datetime.date]:
    """``{index into diagnoses: matched study date}``, filling ``report``'s counts.

    Section 4.2.1: diagnosis dates are rounded to 1 January, so a diagnosis is matched by
    year: first to a study of the same year; if there is none, to one of the next year
    (``fallback_offset=1``: the study year is the diagnosis year + 1; the thesis's words
    are "we try the next year"). With several studies in the year (a retake of an
    unclassifiable mammogram), the most recent is used. A study already matched by its
    own year's diagnosis is not taken again by a fallback. Unmatched diagnoses are
    discarded and listed in the report.
    """
    taken: set[tuple[str, str, datetime.date]] = set()
    matches: dict[int, datetime.date] = {}
    for index, diagnosis in enumerate(diagnoses):  # pass 1: the diagnosis year
        dates = [d for d in studies.get((diagnosis.patient, diagnosis.laterality), ())
                 if d.year == diagnosis.year]
        if dates:
            matches[index] = max(dates)
            taken.add((diagnosis.patient, diagnosis.laterality, matches[index]))
            report.same_year += 1
            report.several_studies += len(set(dates)) > 1
    for index, diagnosis in enumerate(diagnoses):  # pass 2: the next year
        if index in matches:
            continue
        key = (diagnosis.patient, diagnosis.laterality)
        dates = [d for d in studies.get(key, ()) if d.year == diagnosis.year + fallback_offset
                 and (*key, d) not in taken]
        if dates:
            matches[index] = max(dates)
            taken.add((*key, matches[index]))
            report.next_year += 1
            report.several_studies += len(set(dates)) > 1
        else:
            reason = ("no study in the diagnosis year or the next" if not studies.get(key)
                      or not any(d.year in (diagnosis.year, diagnosis.year + fallback_offset)
                                 for d in studies[key])
                      else "the next year's study belongs to its own diagnosis")
            report.unmatched.append((diagnosis.patient, diagnosis.laterality, diagnosis.year, reason))
    return matches

"""Fabric grading with the 4-point system (ASTM D5430), as pure functions.

Defect extraction calls :func:`points_for_defect` for every defect it finds;
the store calls :func:`grade_roll` for a roll's report. Lengths are in
millimetres everywhere and converted to inches and yards here only.

The rules:

* A defect scores by its largest dimension: up to 3 in 1 point, over 3 up to
  6 in 2 points, over 6 up to 9 in 3 points, over 9 in 4 points.
* Holes and openings: up to 1 in 2 points, larger 4 points.
* No linear yard of the roll scores more than 4 points. A defect counts in the
  yard that holds its centre; a continuous defect longer than one yard along
  the roll scores 4 points in every yard it touches.
* Points per 100 square yards = points x 3600 / (width in inches x length in
  yards); a roll passes when that is at most the limit (40 for first quality).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from training.public import CrasStationError

MM_PER_INCH = 25.4
MM_PER_YARD = 914.4
MAX_POINTS_PER_LINEAR_YARD = 4
FIRST_QUALITY_LIMIT_POINTS_PER_100YD2 = 40.0
# Sizes sit on the 3/6/9 in boundaries exactly when measured in whole inches;
# floating-point mm must not push a 76.2 mm defect into the next class.
_BOUNDARY_TOLERANCE_MM = 1e-6


class GradingError(CrasStationError):
    """A roll cannot be graded, e.g. its width or inspected length is unknown."""


@dataclass(frozen=True, slots=True)
class GradedDefect:
    """What grading needs to know about one defect.

    Attributes:
        along_mm: Position of the defect's centre along the roll, from its start.
        length_along_mm: Extent of the defect along the roll.
        points: The defect's points from :func:`points_for_defect`.
    """

    along_mm: float
    length_along_mm: float
    points: int


@dataclass(frozen=True, slots=True)
class RollGrade:
    """The 4-point grade of one roll.

    Attributes:
        defect_count: Defects that were counted.
        raw_points: Points before the per-yard cap (a continuous defect longer than
            a yard counts 4 in every yard it touches).
        capped_points: Points after capping every linear yard at 4.
        capped_yards: Number of linear yards whose points were capped.
        width_in: Roll width in inches.
        length_yd: Inspected length in yards.
        points_per_100yd2: capped_points x 3600 / (width_in x length_yd).
        limit_points_per_100yd2: The pass/fail limit used.
        passed: True when points_per_100yd2 <= limit_points_per_100yd2.
    """

    defect_count: int
    raw_points: int
    capped_points: int
    capped_yards: int
    width_in: float
    length_yd: float
    points_per_100yd2: float
    limit_points_per_100yd2: float
    passed: bool


def _check_size(name: str, value_mm: float) -> None:
    if not math.isfinite(value_mm) or value_mm < 0:
        raise GradingError(
            f"defect {name} must be a finite size >= 0 mm, got {value_mm!r}",
            hint="check the defect extraction's size computation",
        )


def points_for_defect(*, length_mm: float, width_mm: float, is_hole: bool) -> int:
    """Points of one defect under the 4-point system.

    Args:
        length_mm: Extent of the defect along the roll.
        width_mm: Extent of the defect across the roll.
        is_hole: True for holes and openings, which score by their own table.

    Returns:
        1 to 4 points; the largest dimension decides.

    Raises:
        GradingError: a size is negative, infinite or NaN.
    """
    _check_size("length_mm", length_mm)
    _check_size("width_mm", width_mm)
    size_mm = max(length_mm, width_mm) - _BOUNDARY_TOLERANCE_MM
    if is_hole:
        return 2 if size_mm <= 1 * MM_PER_INCH else 4
    for points, limit_in in ((1, 3), (2, 6), (3, 9)):
        if size_mm <= limit_in * MM_PER_INCH:
            return points
    return 4


def _yard_of(position_mm: float) -> int:
    return max(0, math.floor(position_mm / MM_PER_YARD))


def points_by_linear_yard(defects: Iterable[GradedDefect]) -> dict[int, int]:
    """Raw points per linear yard (yard 0 starts at the roll start), before the cap.

    A defect longer than one yard along the roll scores 4 points in every yard
    it touches; any other defect scores its points in the yard of its centre.
    """
    per_yard: dict[int, int] = defaultdict(int)
    for defect in defects:
        if defect.length_along_mm > MM_PER_YARD:
            half = defect.length_along_mm / 2
            first, last = _yard_of(defect.along_mm - half), _yard_of(defect.along_mm + half)
            for yard in range(first, last + 1):
                per_yard[yard] += MAX_POINTS_PER_LINEAR_YARD
        else:
            per_yard[_yard_of(defect.along_mm)] += defect.points
    return dict(per_yard)


def points_per_100_square_yards(*, points: float, width_mm: float, length_mm: float) -> float:
    """Points x 3600 / (width in inches x length in yards).

    Raises:
        GradingError: width or length is not positive.
    """
    if not (math.isfinite(width_mm) and width_mm > 0):
        raise GradingError(
            f"roll width must be > 0 mm to grade it, got {width_mm!r}",
            hint="record the roll's width when the roll is started",
        )
    if not (math.isfinite(length_mm) and length_mm > 0):
        raise GradingError(
            f"inspected length must be > 0 mm to grade the roll, got {length_mm!r}",
            hint="end the roll (which records its inspected length) before grading it",
        )
    return points * 3600.0 / ((width_mm / MM_PER_INCH) * (length_mm / MM_PER_YARD))


def grade_roll(
    defects: Iterable[GradedDefect],
    *,
    width_mm: float,
    length_mm: float,
    limit_points_per_100yd2: float = FIRST_QUALITY_LIMIT_POINTS_PER_100YD2,
) -> RollGrade:
    """Grade a roll from its counted defects.

    Args:
        defects: The defects to count (the caller leaves out false alarms).
        width_mm: Roll width.
        length_mm: Inspected length of the roll.
        limit_points_per_100yd2: Pass when the score is at most this.

    Raises:
        GradingError: width or length is not positive, or the limit is negative.
    """
    if not (math.isfinite(limit_points_per_100yd2) and limit_points_per_100yd2 >= 0):
        raise GradingError(
            f"grade limit must be >= 0 points per 100 yd², got {limit_points_per_100yd2!r}",
            hint="use 40 for the usual first-quality limit",
        )
    defects = list(defects)
    per_yard = points_by_linear_yard(defects)
    capped = sum(min(points, MAX_POINTS_PER_LINEAR_YARD) for points in per_yard.values())
    score = points_per_100_square_yards(points=capped, width_mm=width_mm, length_mm=length_mm)
    return RollGrade(
        defect_count=len(defects),
        raw_points=sum(per_yard.values()),
        capped_points=capped,
        capped_yards=sum(1 for p in per_yard.values() if p > MAX_POINTS_PER_LINEAR_YARD),
        width_in=width_mm / MM_PER_INCH,
        length_yd=length_mm / MM_PER_YARD,
        points_per_100yd2=score,
        limit_points_per_100yd2=float(limit_points_per_100yd2),
        passed=score <= limit_points_per_100yd2,
    )

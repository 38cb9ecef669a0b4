"""The 4-point system (ASTM D5430) against hand-worked examples."""

from __future__ import annotations

import math

import pytest

from station.grading import (
    MM_PER_INCH,
    MM_PER_YARD,
    GradedDefect,
    GradingError,
    grade_roll,
    points_by_linear_yard,
    points_for_defect,
    points_per_100_square_yards,
)

IN = MM_PER_INCH
YD = MM_PER_YARD


@pytest.mark.parametrize(
    ("length_in", "width_in", "expected"),
    [
        (0.5, 0.1, 1),
        (3.0, 0.2, 1),  # up to 3 in: 1 point (3 in exactly included)
        (3.01, 0.2, 2),
        (6.0, 1.0, 2),  # over 3 up to 6 in: 2
        (6.5, 0.5, 3),
        (9.0, 9.0, 3),  # over 6 up to 9 in: 3
        (9.01, 0.1, 4),
        (36.0, 1.0, 4),  # over 9 in: 4
        (0.2, 7.0, 3),  # the largest dimension counts, also across the roll
    ],
)
def test_points_by_largest_dimension(length_in: float, width_in: float, expected: int) -> None:
    assert (
        points_for_defect(length_mm=length_in * IN, width_mm=width_in * IN, is_hole=False)
        == expected
    )


@pytest.mark.parametrize(("size_in", "expected"), [(0.25, 2), (1.0, 2), (1.05, 4), (5.0, 4)])
def test_holes_score_two_up_to_one_inch_else_four(size_in: float, expected: int) -> None:
    assert points_for_defect(length_mm=size_in * IN, width_mm=0.5 * IN, is_hole=True) == expected


def test_bad_sizes_raise_grading_error() -> None:
    for bad in (-1.0, math.nan, math.inf):
        with pytest.raises(GradingError):
            points_for_defect(length_mm=bad, width_mm=1.0, is_hole=False)


def test_worked_example_one_roll() -> None:
    """A 120 yd roll, 58 in wide, with these defects (positions in yards from the roll start):

    yard 3.2: 2 in slub (1)   yard 3.7: 7 in stain (3)   yard 3.9: 0.5 in hole (2)
      -> yard 3 has 6 points, capped at 4
    yard 50.5: 5 in float (2)
    yard 80.1: 10 in crease (4)  yard 80.8: 4 in slub (2) -> yard 80 has 6, capped at 4
    yard 119.9: 1 in knot (1)

    Raw 15 points, capped 4 + 2 + 4 + 1 = 11 points.
    Points per 100 yd² = 11 x 3600 / (58 x 120) = 39600 / 6960 = 5.6897 -> passes 40.
    """
    defects = [
        GradedDefect(along_mm=3.2 * YD, length_along_mm=2 * IN, points=1),
        GradedDefect(along_mm=3.7 * YD, length_along_mm=7 * IN, points=3),
        GradedDefect(along_mm=3.9 * YD, length_along_mm=0.5 * IN, points=2),
        GradedDefect(along_mm=50.5 * YD, length_along_mm=5 * IN, points=2),
        GradedDefect(along_mm=80.1 * YD, length_along_mm=10 * IN, points=4),
        GradedDefect(along_mm=80.8 * YD, length_along_mm=4 * IN, points=2),
        GradedDefect(along_mm=119.9 * YD, length_along_mm=1 * IN, points=1),
    ]
    grade = grade_roll(defects, width_mm=58 * IN, length_mm=120 * YD)
    assert (grade.raw_points, grade.capped_points, grade.capped_yards) == (15, 11, 2)
    assert grade.width_in == pytest.approx(58.0) and grade.length_yd == pytest.approx(120.0)
    assert grade.points_per_100yd2 == pytest.approx(39600 / 6960)
    assert grade.passed


def test_worked_example_failing_roll() -> None:
    """A 10 yd sample, 40 in wide, with a 4-point defect in every yard.

    40 points x 3600 / (40 x 10) = 360 points per 100 yd²: fails 40. With a 6-point
    pile-up in each yard the cap keeps it at the same 360.
    """
    every_yard = [
        GradedDefect(along_mm=(y + 0.5) * YD, length_along_mm=12 * IN, points=4) for y in range(10)
    ]
    grade = grade_roll(every_yard, width_mm=40 * IN, length_mm=10 * YD)
    assert grade.points_per_100yd2 == pytest.approx(360.0) and not grade.passed
    doubled = every_yard + [
        GradedDefect(along_mm=(y + 0.2) * YD, length_along_mm=4 * IN, points=2) for y in range(10)
    ]
    assert grade_roll(
        doubled, width_mm=40 * IN, length_mm=10 * YD
    ).points_per_100yd2 == pytest.approx(360.0)


def test_limit_is_inclusive_and_configurable() -> None:
    """6 points on a 54 in x 10 yd piece: 6 x 3600 / 540 = 40.0 exactly: passes 40, fails 39.9."""
    defects = [
        GradedDefect(along_mm=(y + 0.5) * YD, length_along_mm=5 * IN, points=2) for y in range(3)
    ]
    assert grade_roll(
        defects, width_mm=54 * IN, length_mm=10 * YD
    ).points_per_100yd2 == pytest.approx(40.0)
    assert grade_roll(
        defects, width_mm=54 * IN, length_mm=10 * YD, limit_points_per_100yd2=40
    ).passed
    assert not grade_roll(
        defects, width_mm=54 * IN, length_mm=10 * YD, limit_points_per_100yd2=39.9
    ).passed


def test_continuous_defect_scores_four_in_every_yard_it_touches() -> None:
    """A 2.5 yd crease centred at yard 5.0 spans 3.75..6.25 yd: yards 3, 4, 5, 6 -> 16 points."""
    crease = GradedDefect(along_mm=5.0 * YD, length_along_mm=2.5 * YD, points=4)
    assert points_by_linear_yard([crease]) == {3: 4, 4: 4, 5: 4, 6: 4}
    knot = GradedDefect(along_mm=4.5 * YD, length_along_mm=1 * IN, points=1)
    grade = grade_roll([crease, knot], width_mm=36 * IN, length_mm=100 * YD)
    assert grade.capped_points == 16  # yard 4 already has 4: the knot adds nothing
    assert grade.points_per_100yd2 == pytest.approx(16 * 3600 / (36 * 100))


def test_grading_needs_a_width_and_a_length() -> None:
    with pytest.raises(GradingError):
        points_per_100_square_yards(points=3, width_mm=0.0, length_mm=100.0)
    with pytest.raises(GradingError):
        points_per_100_square_yards(points=3, width_mm=100.0, length_mm=-1.0)
    with pytest.raises(GradingError):
        grade_roll([], width_mm=100.0, length_mm=100.0, limit_points_per_100yd2=-1)
    assert grade_roll([], width_mm=100.0, length_mm=100.0).points_per_100yd2 == 0.0

"""Scoring found defects against planted ones (station.pipeline.planted_truth)."""

from __future__ import annotations

import pytest

from station.pipeline.planted_truth import (
    Box,
    boxes_overlap,
    compare_with_planted,
    format_truth_table,
)
from training.public import DefectTruth


def planted(kind: str, x0: int, y0: int, x1: int, y1: int, defect_id: int = 0) -> DefectTruth:
    return DefectTruth(
        kind=kind, bbox=(x0, y0, x1, y1), area_px=(x1 - x0) * (y1 - y0), defect_id=defect_id
    )


HOLE = planted("hole", 100, 1000, 120, 1020, 0)
STAIN = planted("stain", 400, 3000, 460, 3080, 1)
KNOT = planted("knot", 700, 5000, 710, 5010, 2)


def test_boxes_that_share_a_pixel_overlap_and_touching_boxes_do_not() -> None:
    box: Box = (10, 10, 20, 20)

    assert boxes_overlap(box, (19, 19, 30, 30))
    assert boxes_overlap(box, (12, 12, 14, 14))  # inside
    assert not boxes_overlap(box, (20, 10, 30, 20))  # touches the right edge (ends exclusive)
    assert not boxes_overlap(box, (10, 20, 20, 30))  # touches the bottom edge
    assert not boxes_overlap(box, (0, 0, 5, 5))


def test_hits_misses_and_a_false_alarm_are_counted_per_kind() -> None:
    found = [(105, 1005, 115, 1015), (900, 200, 920, 220)]  # hits the hole; overlaps nothing

    result = compare_with_planted([HOLE, STAIN, KNOT], found, inspected_lines=6000, metres=1.2)

    assert [(t.kind, t.planted, t.found, t.missed) for t in result.by_kind] == [
        ("hole", 1, 1, 0),
        ("knot", 1, 0, 1),
        ("stain", 1, 0, 1),
    ]
    assert (result.planted, result.found, result.missed) == (3, 1, 2)
    assert result.found_defects == 2 and result.false_alarms == 1
    assert result.false_alarms_per_m == pytest.approx(1 / 1.2)


def test_several_found_pieces_on_one_planted_defect_count_it_once_and_are_no_false_alarms() -> None:
    pieces = [(400, 3000, 430, 3040), (420, 3040, 460, 3080), (440, 3070, 470, 3100)]

    result = compare_with_planted([STAIN], pieces, inspected_lines=4000, metres=0.8)

    assert (result.planted, result.found, result.missed) == (1, 1, 0)
    assert result.found_defects == 3 and result.false_alarms == 0


def test_one_found_box_across_two_planted_defects_hits_both() -> None:
    near = planted("hole", 125, 1000, 140, 1020, 3)
    spanning = [(110, 1005, 130, 1010)]

    result = compare_with_planted([HOLE, near], spanning, inspected_lines=2000, metres=0.4)

    assert (result.planted, result.found, result.false_alarms) == (2, 2, 0)


def test_nothing_found_misses_every_planted_defect_with_no_false_alarms() -> None:
    result = compare_with_planted([HOLE, STAIN], [], inspected_lines=6000, metres=1.0)

    assert (result.planted, result.found, result.missed) == (2, 0, 2)
    assert result.false_alarms == 0 and result.false_alarms_per_m == 0.0


def test_with_nothing_planted_every_found_defect_is_a_false_alarm() -> None:
    found = [(0, 0, 5, 5), (50, 50, 60, 60)]

    result = compare_with_planted([], found, inspected_lines=1000, metres=0.5)

    assert result.by_kind == () and result.planted == 0
    assert result.false_alarms == 2 and result.false_alarms_per_m == pytest.approx(4.0)


def test_planted_defects_beyond_the_inspected_lines_are_left_out() -> None:
    result = compare_with_planted([HOLE, STAIN, KNOT], [], inspected_lines=3000, metres=0.6)

    assert [t.kind for t in result.by_kind] == ["hole"]  # the stain starts at line 3000


def test_a_found_box_on_a_defect_beyond_the_inspected_lines_is_no_false_alarm() -> None:
    """Out of reach, the knot is neither found nor missed; a box on it is still on a defect."""
    result = compare_with_planted(
        [KNOT], [(700, 5000, 710, 5010)], inspected_lines=4000, metres=1.0
    )

    assert result.planted == 0 and result.found_defects == 1 and result.false_alarms == 0


def test_metres_must_be_positive() -> None:
    with pytest.raises(ValueError, match="metres"):
        compare_with_planted([HOLE], [], inspected_lines=2000, metres=0.0)


def test_the_table_has_a_row_per_kind_an_all_row_and_the_false_alarm_rate() -> None:
    found = [(105, 1005, 115, 1015), (900, 200, 920, 220)]
    result = compare_with_planted([HOLE, STAIN, KNOT], found, inspected_lines=6000, metres=0.5)

    lines = format_truth_table(result).splitlines()

    assert lines[0].split() == ["kind", "planted", "found", "missed"]
    assert [line.split() for line in lines[1:5]] == [
        ["hole", "1", "1", "0"],
        ["knot", "1", "0", "1"],
        ["stain", "1", "0", "1"],
        ["all", "3", "1", "2"],
    ]
    assert "1 of 2 found defects" in lines[5] and "2.0 per metre" in lines[5]
    assert "0.50 m inspected" in lines[5]

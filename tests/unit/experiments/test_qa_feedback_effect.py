"""The pure parts of the QA-feedback experiment: counting false alarms, matching keys, table."""

from __future__ import annotations

import pytest

from experiments.qa_feedback_effect import (
    FoundOnRoll,
    count_roll,
    false_alarm_boxes,
    format_table,
    match_keys,
)

PLANTED = [(10, 100, 30, 120), (50, 400, 60, 450), (0, 9000, 10, 9010)]


def test_false_alarms_are_found_boxes_overlapping_no_planted_box() -> None:
    found = [(25, 110, 40, 130), (30, 100, 40, 120), (100, 100, 110, 110)]
    # The second touches the first planted box only at its exclusive end: no overlap.
    assert false_alarm_boxes(found, PLANTED) == [(30, 100, 40, 120), (100, 100, 110, 110)]


def test_count_roll_counts_rejected_regions_and_reachable_planted_defects() -> None:
    found = [(12, 105, 14, 107), (100, 100, 110, 110), (200, 200, 210, 210), (55, 420, 57, 422)]
    rejected = [(105, 105, 120, 120)]
    count = count_roll(
        "m", found, planted=PLANTED, rejected=rejected, inspected_lines=5000, metres=2.0
    )
    assert (count.reported, count.false_alarms, count.false_alarms_in_rejected) == (4, 2, 1)
    # The planted defect at line 9000 lies beyond the inspected stretch.
    assert (count.planted, count.planted_found) == (2, 2)
    assert count.false_alarms_per_m == pytest.approx(1.0)
    assert count.rejected_false_alarms_per_m == pytest.approx(0.5)


def test_match_keys_takes_the_nearest_stored_defect_once_within_tolerance() -> None:
    found = [FoundOnRoll((0, 0, 1, 1), 10.0, 5.0), FoundOnRoll((0, 0, 1, 1), 10.1, 5.0)]
    stored = [("a", 10.05, 5.0), ("b", 10.0, 5.01), ("far", 30.0, 5.0)]
    assert match_keys(found, stored) == ["b", "a"]
    assert match_keys([FoundOnRoll((0, 0, 1, 1), 20.0, 5.0)], stored) == [None]


def test_table_has_a_row_per_model_with_rates() -> None:
    counts = [
        count_roll(
            "plain",
            [(100, 100, 110, 110)],
            planted=PLANTED,
            rejected=[],
            inspected_lines=500,
            metres=0.5,
        ),
        count_roll(
            "with QA false alarms",
            [],
            planted=PLANTED,
            rejected=[],
            inspected_lines=500,
            metres=0.5,
        ),
    ]
    table = format_table(counts).splitlines()
    assert len(table) == 3
    assert table[1].split()[:5] == ["plain", "0.50", "1", "1", "2.00"]
    assert table[1].endswith("0 of 2")
    assert table[2].startswith("with QA false alarms")

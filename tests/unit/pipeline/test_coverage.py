"""Coverage: lines no inspected row covers become uninspected stretches, with reasons."""

from __future__ import annotations

import pytest

from station.pipeline.coverage import CoverageTracker

MM = 0.2


def _row(tracker: CoverageTracker, first: int, size: int = 64, *, inspected: bool = True):
    return tracker.row_done(first, first + size, first_mm=first * MM, inspected=inspected)


def test_contiguous_rows_leave_no_stretch() -> None:
    tracker = CoverageTracker(mm_per_line=MM)
    assert [_row(tracker, first) for first in (0, 48, 96, 144)] == [None] * 4
    assert tracker.finish(208) is None
    assert tracker.inspected_lines == 208 and tracker.uninspected_lines == 0


def test_a_dropped_row_between_overlapping_rows_leaves_only_its_uncovered_lines() -> None:
    tracker = CoverageTracker(mm_per_line=MM)
    _row(tracker, 0)
    tracker.note_loss(48, 112, "inference fell behind")  # row at 48 dropped
    stretch = _row(tracker, 96)
    assert stretch is not None
    assert (stretch.first_line, stretch.end_line) == (64, 96)
    assert stretch.from_mm == pytest.approx(64 * MM) and stretch.to_mm == pytest.approx(96 * MM)
    assert stretch.reasons == ("inference fell behind",) and stretch.lost_items == 1


def test_consecutive_losses_make_one_stretch_with_every_reason() -> None:
    tracker = CoverageTracker(mm_per_line=MM)
    _row(tracker, 0)
    tracker.note_loss(64, 128, "inference fell behind")
    tracker.note_loss(128, 192, "inference fell behind")
    tracker.note_loss(192, 256, "no fabric found", dropped=False)
    stretch = _row(tracker, 256)
    assert (stretch.first_line, stretch.end_line) == (64, 256)
    assert stretch.reasons == ("inference fell behind", "no fabric found")
    assert stretch.lost_items == 2  # rows thrown away; the row without fabric was not
    assert tracker.uninspected_lines == 192 and tracker.inspected_lines == 128


def test_rows_not_inspected_do_not_cover_their_lines() -> None:
    tracker = CoverageTracker(mm_per_line=MM)
    _row(tracker, 0)
    assert _row(tracker, 64, inspected=False) is None
    stretch = _row(tracker, 128)
    assert (stretch.first_line, stretch.end_line) == (64, 128)
    assert stretch.reasons == (CoverageTracker.NO_CAUSE_SEEN,)


def test_missing_start_and_end_of_the_web_are_stretches() -> None:
    tracker = CoverageTracker(mm_per_line=MM)
    start = _row(tracker, 100)
    assert (start.first_line, start.end_line, start.from_mm) == (0, 100, 0.0)
    end = tracker.finish(300)
    assert (end.first_line, end.end_line) == (164, 300)
    assert end.to_mm == pytest.approx(300 * MM)


def test_positions_follow_the_rows_not_the_line_count() -> None:
    """With an encoder the mm of a line is what its row says, not line x mm_per_line."""
    tracker = CoverageTracker(mm_per_line=MM)
    tracker.row_done(0, 64, first_mm=1000.0, inspected=True)
    stretch = tracker.row_done(128, 192, first_mm=1030.0, inspected=True)
    assert stretch.from_mm == pytest.approx(1000.0 + 64 * MM) and stretch.to_mm == 1030.0


def test_a_stretch_reads_as_its_place_along_the_roll() -> None:
    tracker = CoverageTracker(mm_per_line=0.1)
    tracker.row_done(0, 4544, first_mm=0.0, inspected=True)
    tracker.note_loss(4544, 5120, "inference fell behind")
    stretch = tracker.row_done(5120, 5184, first_mm=512.0, inspected=True)
    assert stretch is not None
    assert str(stretch) == "454.4\u2013512.0 mm"
    assert f"gap {stretch}" == "gap 454.4\u2013512.0 mm"
    assert stretch.describe() == (
        "454.4\u2013512.0 mm (inference fell behind, 1 block(s) or tile row(s) dropped)"
    )
    assert "Stretch(" not in stretch.describe()

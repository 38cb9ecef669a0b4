"""Coverage checkpoints: their pace, and what a snapshot of coverage holds."""

from __future__ import annotations

import pytest

from station.pipeline.coverage import CheckpointCadence, CoverageTracker

MM = 0.2


def test_the_first_checkpoint_is_due_at_once_then_every_interval() -> None:
    cadence = CheckpointCadence(every_s=1.0, every_mm=1000.0)
    assert cadence.take_if_due(position_mm=0.0, now_s=100.0)
    assert not cadence.take_if_due(position_mm=10.0, now_s=100.5)
    assert not cadence.take_if_due(position_mm=20.0, now_s=100.99)
    assert cadence.take_if_due(position_mm=30.0, now_s=101.0)  # 1 s since the last
    assert not cadence.take_if_due(position_mm=40.0, now_s=101.5)  # restarted at 101.0


def test_a_fast_web_takes_a_checkpoint_every_stretch_of_web() -> None:
    cadence = CheckpointCadence(every_s=60.0, every_mm=1000.0)
    taken = [
        position
        for position in range(0, 5001, 100)
        if cadence.take_if_due(position_mm=float(position), now_s=position / 10_000)
    ]
    assert taken == [0, 1000, 2000, 3000, 4000, 5000]


def test_a_forced_checkpoint_restarts_the_cadence() -> None:
    cadence = CheckpointCadence(every_s=1.0, every_mm=1000.0)
    cadence.mark(position_mm=500.0, now_s=10.0)
    assert not cadence.take_if_due(position_mm=900.0, now_s=10.5)
    assert cadence.take_if_due(position_mm=1500.0, now_s=10.6)


def test_a_cadence_must_be_positive() -> None:
    with pytest.raises(ValueError, match="must be > 0"):
        CheckpointCadence(every_s=0.0, every_mm=1000.0)


def test_a_snapshot_accounts_for_every_acquired_line() -> None:
    tracker = CoverageTracker(mm_per_line=MM)
    tracker.row_done(0, 64, first_mm=0.0, inspected=True)
    tracker.note_loss(64, 128, "inference fell behind")
    tracker.row_done(128, 192, first_mm=128 * MM, inspected=True)  # closes 64-128
    snapshot = tracker.snapshot(acquired_until_line=250)
    assert snapshot.inspected_until_line == 192
    assert snapshot.inspected_until_mm == pytest.approx(192 * MM)
    assert snapshot.acquired_until_mm == pytest.approx(250 * MM)
    assert snapshot.inspected_mm == pytest.approx(128 * MM)
    assert snapshot.uninspected_mm == pytest.approx(64 * MM)
    pending = snapshot.acquired_until_mm - snapshot.inspected_until_mm
    assert snapshot.inspected_mm + snapshot.uninspected_mm + pending == pytest.approx(250 * MM)


def test_a_snapshot_never_has_acquired_behind_inspected() -> None:
    tracker = CoverageTracker(mm_per_line=MM)
    tracker.row_done(0, 64, first_mm=0.0, inspected=True)
    snapshot = tracker.snapshot(acquired_until_line=10)
    assert snapshot.acquired_until_mm == snapshot.inspected_until_mm == pytest.approx(64 * MM)


def test_lines_whose_defects_may_not_be_reported_yet_are_not_counted_inspected() -> None:
    tracker = CoverageTracker(mm_per_line=MM)
    tracker.row_done(0, 64, first_mm=0.0, inspected=True)
    tracker.row_done(64, 128, first_mm=64 * MM, inspected=True)
    snapshot = tracker.snapshot(acquired_until_line=150, held_from_line=80)
    assert snapshot.inspected_until_line == 80
    assert snapshot.inspected_mm == pytest.approx(80 * MM)
    assert snapshot.acquired_until_mm - snapshot.inspected_until_mm == pytest.approx(70 * MM)

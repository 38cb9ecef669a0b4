"""Roll recovery, coverage checkpoints and same-lot continuation, on SQLite and PostgreSQL.

The rules are applied when records are written, so the tests feed the
repository (or the writer) the records a station makes, in the order it makes them.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from station.store.config import StoreConfig
from station.store.errors import AmbiguousRollError
from station.store.records import (
    CoverageCheckpoint,
    EventKind,
    EventRecord,
    RollEnd,
    RollRecovery,
    RollStart,
    RunEnd,
    RunStart,
    StoredDefect,
)
from station.store.recovery_writes import STOPPED_UNEXPECTEDLY
from station.store.repository import DefectRepository
from station.store.store import DefectStore
from station.store.views import DefectQuery
from tests.integration.store.helpers import MODEL, T0, defect, roll_start, with_port


def _run(roll: RollStart, minutes: float = 0.0) -> RunStart:
    return RunStart(
        roll_key=roll.key,
        station=roll.station,
        model=MODEL,
        started_at=roll.started_at + timedelta(minutes=minutes),
    )


def _checkpoint(
    roll: RollStart, run: RunStart, *, inspected: float, acquired: float, minutes: float
) -> CoverageCheckpoint:
    """A checkpoint with ``inspected`` mm inspected, nothing uninspected before it."""
    return CoverageCheckpoint(
        roll_key=roll.key,
        run_key=run.key,
        inspected_until_line=int(inspected * 10),
        inspected_until_mm=inspected,
        acquired_until_mm=acquired,
        inspected_mm=inspected,
        uninspected_mm=0.0,
        taken_at=run.started_at + timedelta(minutes=minutes),
    )


def _write(repository: DefectRepository, *items) -> None:
    result = repository.write_batch(list(items))
    assert not result.rejected, result.rejected


def test_recovery_closes_the_crashed_roll_from_its_last_checkpoint(
    repository: DefectRepository, caplog: pytest.LogCaptureFixture
) -> None:
    crashed = roll_start("LOT-CRASH")
    run = _run(crashed)
    other_station = roll_start("LOT-OTHER", station="station-b")
    _write(
        repository,
        crashed,
        run,
        other_station,
        _checkpoint(crashed, run, inspected=800.0, acquired=900.0, minutes=1),
        _checkpoint(crashed, run, inspected=1500.0, acquired=1620.0, minutes=2),
    )
    # An older checkpoint written late (a journal replayed twice) changes nothing.
    _write(repository, _checkpoint(crashed, run, inspected=100.0, acquired=120.0, minutes=0.5))
    recovery = RollRecovery(station="station-a", requested_at=T0 + timedelta(hours=1))
    with caplog.at_level(logging.WARNING, logger="station.store.recovery_writes"):
        _write(repository, recovery)
    roll = repository.get_roll(roll_key=crashed.key)
    assert roll.length_inspected_mm == pytest.approx(1500.0)
    assert roll.ended_at == T0 + timedelta(minutes=2)  # the last durable checkpoint
    assert repository.list_runs(crashed.key)[0].ended_at == T0 + timedelta(minutes=2)
    stretches = repository.list_events(
        roll_key=crashed.key, kinds=(EventKind.UNINSPECTED_STRETCH.value,)
    )
    assert [(e.from_mm, e.to_mm) for e in stretches] == [(1500.0, 1620.0)]
    assert stretches[0].details["reasons"] == [STOPPED_UNEXPECTEDLY]
    assert STOPPED_UNEXPECTEDLY in stretches[0].message
    lines = [r.getMessage() for r in caplog.records if "left running by a crash" in r.getMessage()]
    assert len(lines) == 1 and "LOT-CRASH" in lines[0] and "1.500 m inspected" in lines[0]
    assert "1.500-1.620 m" in lines[0]
    # Another station's running roll is not this station's to recover.
    assert repository.get_roll(roll_key=other_station.key).ended_at is None
    summary = repository.roll_summary(crashed.key, limit_points_per_100yd2=40)
    assert summary.grade is not None and summary.uninspected_mm == pytest.approx(120.0)
    # Replaying the same recovery adds nothing.
    _write(repository, recovery)
    assert len(repository.list_events(roll_key=crashed.key)) == 2  # stretch + roll_recovered


def test_recovery_leaves_rolls_started_after_it_was_asked_for(
    repository: DefectRepository,
) -> None:
    recovery = RollRecovery(station="station-a", requested_at=T0 + timedelta(minutes=5))
    newer = roll_start("LOT-NEW", started_at=T0 + timedelta(minutes=6))
    older = roll_start("LOT-OLD")
    continued = RollStart(
        lot_number="LOT-OLD",
        station="station-a",
        fabric_type="denim",
        width_mm=1524.0,
        started_at=T0 + timedelta(minutes=6),
        same_lot="continue",
    )
    _write(repository, older, _run(older))
    _write(repository, RollEnd(roll_key=older.key, length_inspected_mm=10.0))
    # The station's own next rolls, then its recovery replayed once more from the journal.
    _write(repository, newer, _run(newer), continued, _run(continued), recovery)
    assert repository.get_roll(roll_key=newer.key).ended_at is None
    assert repository.list_runs(newer.key)[0].ended_at is None
    assert repository.get_roll(roll_key=older.key).ended_at is None  # continued, running


def test_a_roll_without_checkpoints_is_closed_with_nothing_inspected(
    repository: DefectRepository,
) -> None:
    crashed = roll_start("LOT-EARLY")
    _write(repository, crashed, _run(crashed))
    _write(repository, RollRecovery(station="station-a", requested_at=T0 + timedelta(hours=1)))
    roll = repository.get_roll(roll_key=crashed.key)
    assert roll.ended_at == T0 and roll.length_inspected_mm == 0.0


def test_same_lot_continues_the_roll_with_positions_after_its_end(
    repository: DefectRepository,
) -> None:
    first = roll_start("LOT-7")
    run1 = _run(first)
    _write(
        repository,
        first,
        run1,
        _checkpoint(first, run1, inspected=1000.0, acquired=1200.0, minutes=1),
        RunEnd(run_key=run1.key, ended_at=T0 + timedelta(minutes=1)),
        RollEnd(roll_key=first.key, length_inspected_mm=1000.0, ended_at=T0 + timedelta(minutes=1)),
    )
    again = RollStart(
        lot_number="LOT-7",
        station="station-a",
        fabric_type="denim",
        width_mm=1524.0,
        started_at=T0 + timedelta(hours=1),
        same_lot="continue",
    )
    run2 = _run(again)
    found = defect(again.key, 0, run_key=run2.key, along_mm=50.0)
    stretch = EventRecord(
        kind=EventKind.UNINSPECTED_STRETCH, message="gap", roll_key=again.key, from_mm=10, to_mm=20
    )
    _write(repository, again, run2, StoredDefect(record=found), stretch)
    assert repository.get_roll(roll_key=first.key).ended_at is None  # running again
    _write(
        repository,
        _checkpoint(again, run2, inspected=400.0, acquired=500.0, minutes=2),
        RunEnd(run_key=run2.key),
        RollEnd(roll_key=again.key, length_inspected_mm=480.0, ended_at=T0 + timedelta(hours=2)),
    )
    roll = repository.get_roll(lot_number="LOT-7")  # one roll, not two
    assert roll.key == first.key and repository.get_roll(roll_key=again.key).key == first.key
    assert roll.length_inspected_mm == pytest.approx(1480.0)
    assert roll.ended_at == T0 + timedelta(hours=2)
    runs = repository.list_runs(again.key)
    assert [r.start_mm for r in runs] == [0.0, 1200.0]
    assert runs[1].inspected_until_mm == pytest.approx(1600.0)
    assert runs[1].acquired_until_mm == pytest.approx(1700.0)
    stored = repository.get_defect(found.key)
    assert stored.along_mm == pytest.approx(1250.0) and stored.roll_key == first.key
    page = repository.find_defects(DefectQuery(roll_key=again.key))
    assert [d.key for d in page.items] == [found.key]
    gap = repository.list_events(roll_key=first.key, kinds=(EventKind.UNINSPECTED_STRETCH.value,))
    assert [(e.from_mm, e.to_mm) for e in gap] == [(1210.0, 1220.0)]


def test_same_lot_new_opens_a_second_roll(repository: DefectRepository) -> None:
    first = roll_start("LOT-8")
    second = roll_start("LOT-8", started_at=T0 + timedelta(hours=1))  # same_lot="new"
    _write(repository, first, second)
    with pytest.raises(AmbiguousRollError):
        repository.get_roll(lot_number="LOT-8")


@pytest.mark.postgres
def test_a_start_journaled_while_the_database_was_down_continues_the_roll_on_replay(
    pg_store_config: StoreConfig,
) -> None:
    """The crash, the restart and the new start all happen offline; the replay sorts it out."""
    with DefectStore.open(pg_store_config) as store:  # the first run, online
        first = RollStart(lot_number="LOT-OFF", station="st", fabric_type="denim", width_mm=1000.0)
        run1 = RunStart(roll_key=first.key, station="st", model=MODEL)
        for record in (first, run1):
            store.writer.submit_lifecycle(record)
        store.writer.submit_lifecycle(
            CoverageCheckpoint(
                roll_key=first.key,
                run_key=run1.key,
                inspected_until_line=3000,
                inspected_until_mm=300.0,
                acquired_until_mm=340.0,
                inspected_mm=300.0,
                uninspected_mm=0.0,
            )
        )
        assert store.writer.flush(timeout_s=30)
    offline = pg_store_config.model_copy(update={"url": with_port(pg_store_config.url, 1)})
    store = DefectStore.open(offline, allow_offline=True)  # the restart, database down
    again = RollStart(
        lot_number="LOT-OFF",
        station="st",
        fabric_type="denim",
        width_mm=1000.0,
        same_lot="continue",
    )
    run2 = RunStart(roll_key=again.key, station="st", model=MODEL)
    for record in (RollRecovery(station="st"), again, run2):
        store.writer.submit_lifecycle(record)
    store.writer.submit_defect(defect(again.key, 1, run_key=run2.key, along_mm=5.0))
    stats = store.close(timeout_s=30)
    assert stats.journaled == 4 and stats.journal_pending == 4
    with DefectStore.open(pg_store_config) as store:  # the database is back: replay
        assert store.writer.wait_for_database(timeout_s=60)
        repository = store.repository
        roll = repository.get_roll(lot_number="LOT-OFF")
        assert roll.key == first.key and roll.ended_at is None  # continued, running
        runs = repository.list_runs(first.key)
        assert [r.start_mm for r in runs] == [0.0, 340.0] and runs[0].ended_at is not None
        stretch = repository.list_events(
            roll_key=first.key, kinds=(EventKind.UNINSPECTED_STRETCH.value,)
        )
        assert [(e.from_mm, e.to_mm) for e in stretch] == [(300.0, 340.0)]
        defects = repository.find_defects(DefectQuery(roll_key=first.key)).items
        assert [d.along_mm for d in defects] == [pytest.approx(345.0)]


def test_a_continued_roll_that_crashes_keeps_the_length_it_had_before(
    repository: DefectRepository,
) -> None:
    old = roll_start("LOT-9")  # inspected before checkpoints existed: no checkpoint rows
    _write(repository, old, _run(old), RollEnd(roll_key=old.key, length_inspected_mm=1000.0))
    again = RollStart(
        lot_number="LOT-9",
        station="station-a",
        fabric_type="denim",
        width_mm=1524.0,
        started_at=T0 + timedelta(hours=1),
        same_lot="continue",
    )
    run = _run(again)
    _write(
        repository, again, run, _checkpoint(again, run, inspected=300.0, acquired=350.0, minutes=1)
    )
    _write(repository, RollRecovery(station="station-a", requested_at=T0 + timedelta(hours=2)))
    roll = repository.get_roll(roll_key=old.key)
    assert roll.length_inspected_mm == pytest.approx(1300.0)
    gap = repository.list_events(roll_key=old.key, kinds=(EventKind.UNINSPECTED_STRETCH.value,))
    assert [(e.from_mm, e.to_mm) for e in gap] == [(1300.0, 1350.0)]

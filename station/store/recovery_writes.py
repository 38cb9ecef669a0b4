"""Writes that keep a roll whole across a crash: checkpoints, recovery, continuation.

Three things are decided when a record is *written*, not when it is made, so
they hold as well for records journaled while the database was unreachable
(the journal replays them in the order the station made them):

- A :class:`CoverageCheckpoint` updates its run's row (newest wins).
- A :class:`RollRecovery` closes the station's rolls a crash left running:
  each with the inspected length of its runs' last checkpoints, the stretch
  from the last inspected line to the last acquired one recorded as an
  uninspected stretch ("station stopped unexpectedly"), and one log line.
- A :class:`RollStart` with ``same_lot="continue"`` whose lot this station
  already inspected continues the newest such roll: its key is kept in
  ``roll_continuations`` and the records naming it are stored on that roll,
  with positions shifted to start where the roll's earlier runs ended.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, or_, select, update

from station.store.models import Event, InspectionRun, Roll, RollContinuation
from station.store.records import (
    CoverageCheckpoint,
    EventKind,
    RollRecovery,
    RollStart,
    Severity,
    utc_now,
)
from station.store.writes import BatchResult, insert_ignoring_duplicates

log = logging.getLogger(__name__)

STOPPED_UNEXPECTEDLY = "station stopped unexpectedly"


@dataclass(frozen=True, slots=True)
class RollPlace:
    """Where records naming a roll key go.

    Attributes:
        id: The roll's row.
        start_mm: Added to the records' positions (0 unless the key continues a roll).
        base_inspected_mm: For a continuation, the roll's inspected length before it
            (the roll's end adds this run's length to it); None for a roll's own key.
    """

    id: int
    start_mm: float = 0.0
    base_inspected_mm: float | None = None


class RecoveryWritesMixin:
    """Recovery, checkpoint and continuation writes of the repository."""

    _roll_places: dict[uuid.UUID, RollPlace]
    _cache_lock: Any  # from WritesMixin
    station_id: Any  # from WritesMixin
    _log_after_commit: list[tuple[int, str]]

    def emit_committed_logs(self, *, committed: bool) -> None:
        """Log the lines of the batch's recoveries and continuations once it committed.

        A batch that failed is written again later (from the journal); its lines come then.
        """
        lines, self._log_after_commit = self._log_after_commit, []
        if committed:
            for level, line in lines:
                log.log(level, "%s", line)

    def resolve_rolls(
        self, connection: Connection, keys: Iterable[uuid.UUID | None]
    ) -> dict[uuid.UUID, RollPlace]:
        """Where each known roll key's records go (a roll's own key or a continuation's)."""
        wanted = {key for key in keys if key is not None}
        with self._cache_lock:
            found = {key: self._roll_places[key] for key in wanted if key in self._roll_places}
        missing = wanted - found.keys()
        if missing:
            for row in connection.execute(select(Roll.key, Roll.id).where(Roll.key.in_(missing))):
                found[row.key] = RollPlace(row.id)
            rows = connection.execute(
                select(
                    RollContinuation.key,
                    RollContinuation.roll_id,
                    RollContinuation.start_mm,
                    RollContinuation.base_inspected_mm,
                ).where(RollContinuation.key.in_(missing))
            )
            for row in rows:
                found[row.key] = RollPlace(row.roll_id, row.start_mm, row.base_inspected_mm)
        return found

    def remember_rolls(self, places: dict[uuid.UUID, RollPlace]) -> None:
        with self._cache_lock:
            self._roll_places.update(places)

    # -- same lot: continue the roll --------------------------------------------------------
    def starts_needing_a_roll(
        self, connection: Connection, group: list[RollStart]
    ) -> list[RollStart]:
        """Continue rolls where the starts ask for it; return the starts that need a new roll."""
        return [
            record
            for record in group
            if record.same_lot != "continue" or not self._continue_roll(connection, record)
        ]

    def _continue_roll(self, connection: Connection, record: RollStart) -> bool:
        if connection.execute(select(Roll.id).where(Roll.key == record.key)).first():
            return False  # written before as a roll of its own
        if connection.execute(
            select(RollContinuation.id).where(RollContinuation.key == record.key)
        ).first():
            return True  # replayed
        roll = connection.execute(
            select(Roll.id, Roll.key, Roll.length_inspected_mm)
            .where(
                Roll.station_id == self.station_id(record.station),
                Roll.lot_number == record.lot_number,
            )
            .order_by(Roll.started_at.desc(), Roll.id.desc())
            .limit(1)
        ).first()
        if roll is None:
            return False
        runs = connection.execute(
            select(
                func.max(InspectionRun.acquired_until_mm), func.sum(InspectionRun.inspected_mm)
            ).where(InspectionRun.roll_id == roll.id)
        ).one()
        last_stretch_mm = connection.execute(
            select(func.max(Event.to_mm)).where(
                Event.roll_id == roll.id, Event.kind == EventKind.UNINSPECTED_STRETCH.value
            )
        ).scalar()
        base = roll.length_inspected_mm if roll.length_inspected_mm is not None else runs[1] or 0.0
        # Where the roll ended: its last acquired line (older runs without checkpoints:
        # the end of what was inspected or marked uninspected).
        start_mm = max(runs[0] or 0.0, base, last_stretch_mm or 0.0)
        connection.execute(
            RollContinuation.__table__.insert().values(
                key=record.key,
                roll_id=roll.id,
                start_mm=start_mm,
                base_inspected_mm=base,
                started_at=record.started_at,
            )
        )
        connection.execute(update(Roll).where(Roll.id == roll.id).values(ended_at=None))
        self._log_after_commit.append(
            (
                logging.INFO,
                f"lot {record.lot_number} continues roll {roll.key} of station {record.station} "
                f"from {start_mm / 1000:.3f} m (a new inspection run)",
            )
        )
        return True

    # -- checkpoints ------------------------------------------------------------------------
    def write_checkpoints(
        self, connection: Connection, group: list[CoverageCheckpoint], result: BatchResult
    ) -> None:
        """Keep each run's newest checkpoint on its row (an older one changes nothing)."""
        places = self.resolve_rolls(connection, (c.roll_key for c in group))
        for record in group:
            start = places[record.roll_key].start_mm if record.roll_key in places else 0.0
            statement = (
                update(InspectionRun)
                .where(
                    InspectionRun.key == record.run_key,
                    or_(
                        InspectionRun.checkpoint_at.is_(None),
                        InspectionRun.checkpoint_at <= record.taken_at,
                    ),
                )
                .values(
                    inspected_until_line=record.inspected_until_line,
                    inspected_until_mm=start + record.inspected_until_mm,
                    acquired_until_mm=start + record.acquired_until_mm,
                    inspected_mm=record.inspected_mm,
                    uninspected_mm=record.uninspected_mm,
                    checkpoint_at=record.taken_at,
                )
            )
            if (
                connection.execute(statement).rowcount
                or connection.execute(
                    select(InspectionRun.id).where(InspectionRun.key == record.run_key)
                ).first()
            ):
                result.written.append(record)
            else:
                result.rejected.append(
                    (record, "the checkpoint names a run that was never started")
                )
        self.remember_rolls(places)

    # -- recovery -----------------------------------------------------------------------------
    def write_recoveries(
        self, connection: Connection, group: list[RollRecovery], result: BatchResult
    ) -> None:
        """Close the rolls each station left running before its recovery was asked for."""
        for record in group:
            station_id = self.station_id(record.station)
            rolls = connection.execute(
                select(Roll.id, Roll.key, Roll.lot_number, Roll.started_at).where(
                    Roll.station_id == station_id,
                    Roll.ended_at.is_(None),
                    Roll.started_at < record.requested_at,
                )
            ).all()
            for roll in rolls:
                if not _started_since(connection, roll.id, record):
                    line = _recover_roll(connection, roll, station_id, record)
                    self._log_after_commit.append((logging.WARNING, line))
            result.written.append(record)


def _started_since(connection: Connection, roll_id: int, record: RollRecovery) -> bool:
    """True when the roll got a run or a continuation at or after the recovery was asked for.

    A journal replayed twice may bring a recovery after the station's own next
    roll was written; that roll is running, not left by a crash.
    """
    run = connection.execute(
        select(InspectionRun.id).where(
            InspectionRun.roll_id == roll_id, InspectionRun.started_at >= record.requested_at
        )
    ).first()
    continuation = connection.execute(
        select(RollContinuation.id).where(
            RollContinuation.roll_id == roll_id,
            RollContinuation.started_at >= record.requested_at,
        )
    ).first()
    return run is not None or continuation is not None


def _recover_roll(connection: Connection, roll: Any, station_id: int, record: RollRecovery) -> str:
    """Close one roll from its runs' last checkpoints; return the line to log."""
    runs = connection.execute(
        select(
            InspectionRun.id,
            InspectionRun.key,
            InspectionRun.started_at,
            InspectionRun.ended_at,
            InspectionRun.inspected_until_line,
            InspectionRun.inspected_until_mm,
            InspectionRun.acquired_until_mm,
            InspectionRun.inspected_mm,
            InspectionRun.checkpoint_at,
            InspectionRun.start_mm,
        ).where(InspectionRun.roll_id == roll.id)
    ).all()
    inspected_mm = _inspected_length(connection, roll.id, runs)
    ends = [roll.started_at]
    lost: list[tuple[float, float]] = []
    for run in runs:
        if run.ended_at is not None:
            ends.append(run.ended_at)
            continue
        ended_at = run.checkpoint_at or run.started_at
        ends.append(ended_at)
        connection.execute(
            update(InspectionRun).where(InspectionRun.id == run.id).values(ended_at=ended_at)
        )
        if run.checkpoint_at is None or run.acquired_until_mm <= run.inspected_until_mm:
            continue
        lost.append((run.inspected_until_mm, run.acquired_until_mm))
        _insert_event(
            connection,
            key=uuid.uuid5(record.key, f"stretch {run.key}"),
            kind=EventKind.UNINSPECTED_STRETCH,
            message=f"{run.inspected_until_mm / 1000:.3f}-{run.acquired_until_mm / 1000:.3f} m "
            f"not inspected: {STOPPED_UNEXPECTEDLY}",
            ids=(station_id, roll.id, run.id),
            span=(run.inspected_until_mm, run.acquired_until_mm),
            details={"first_line": run.inspected_until_line, "reasons": [STOPPED_UNEXPECTEDLY]},
            occurred_at=record.requested_at,
        )
    ended_at = max(ends)
    connection.execute(
        update(Roll)
        .where(Roll.id == roll.id)
        .values(ended_at=ended_at, length_inspected_mm=inspected_mm)
    )
    stretches = ", ".join(f"{a / 1000:.3f}-{b / 1000:.3f} m" for a, b in lost) or "none"
    line = (
        f"roll {roll.lot_number} ({roll.key}) was left running by a crash: closed with "
        f"{inspected_mm / 1000:.3f} m inspected (last checkpoint {ended_at:%Y-%m-%d %H:%M:%S}); "
        f"marked uninspected ({STOPPED_UNEXPECTEDLY}): {stretches}"
    )
    _insert_event(
        connection,
        key=uuid.uuid5(record.key, f"roll {roll.key}"),
        kind=EventKind.ROLL_RECOVERED,
        message=line,
        ids=(station_id, roll.id, None),
        span=(None, None),
        details={"inspected_mm": inspected_mm, "lost": [list(pair) for pair in lost]},
        occurred_at=record.requested_at,
    )
    return line


def _inspected_length(connection: Connection, roll_id: int, runs: list[Any]) -> float:
    """The roll's inspected length from its runs' checkpoints.

    A continued roll counts from its newest continuation: the roll's length when it
    was continued, plus what the runs since then inspected (earlier runs may predate
    checkpoints).
    """
    continuation = connection.execute(
        select(RollContinuation.start_mm, RollContinuation.base_inspected_mm)
        .where(RollContinuation.roll_id == roll_id)
        .order_by(RollContinuation.started_at.desc(), RollContinuation.id.desc())
        .limit(1)
    ).first()
    if continuation is None:
        return sum(run.inspected_mm or 0.0 for run in runs)
    since = [run for run in runs if (run.start_mm or 0.0) >= continuation.start_mm]
    return continuation.base_inspected_mm + sum(run.inspected_mm or 0.0 for run in since)


def _insert_event(
    connection: Connection,
    *,
    key: uuid.UUID,
    kind: str,
    message: str,
    ids: tuple[int, int, int | None],
    span: tuple[float | None, float | None],
    details: dict[str, Any],
    occurred_at: Any,
) -> None:
    station_id, roll_id, run_id = ids
    insert_ignoring_duplicates(
        connection,
        Event.__table__,
        [
            {
                "key": key,
                "kind": str(kind),
                "severity": str(Severity.WARNING),
                "message": message,
                "station_id": station_id,
                "roll_id": roll_id,
                "run_id": run_id,
                "from_mm": span[0],
                "to_mm": span[1],
                "count": 0 if span[0] is not None else None,
                "details": details,
                "occurred_at": occurred_at or utc_now(),
            }
        ],
        unique_columns=["key"],
    )

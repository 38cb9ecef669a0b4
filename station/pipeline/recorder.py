"""Everything the pipeline tells the defect store: the roll, the run, defects, events.

The roll starts when the first line block arrives (its web width is measured
there unless the configuration gives it). Events that happen before (a camera
warning at start-up) wait and are written right after the roll starts. All
calls queue through the store's non-blocking writer and are thread-safe.

When the recorder is made (the pipeline starts), a
:class:`~station.store.records.RollRecovery` asks the store to close this
station's rolls a crash left running; the roll's start says
what to do when the station already inspected its lot (``roll.same_lot``). Both
are settled when the writer writes them, so they also hold when the database is
unreachable at start-up. While the roll runs, coverage checkpoints (how far
inspection got) are written at the ``roll.checkpoint_every_*`` pace.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from station.pipeline.config import RollConfig
from station.pipeline.coverage import CheckpointCadence, CoverageSnapshot, Stretch
from station.pipeline.extraction import FoundDefect
from station.store.records import (
    CoverageCheckpoint,
    DefectRecord,
    EventKind,
    EventRecord,
    ModelVersionInfo,
    RollRecovery,
    RollStart,
    Severity,
)
from station.store.store import DefectStore

logger = logging.getLogger(__name__)


class RollRecorder:
    """Writes one roll's inspection to the store.

    Args:
        store: The open store (with its writer).
        station: Station name.
        lot_number: The roll's lot number; ``auto`` makes one from the station and start time.
        fabric_type: Fabric type recorded with the roll.
        width_mm: Roll width for grading; None = measured at :meth:`begin`.
        model: The model version the run inspects with.
        settings: Configuration stored with the run.
        camera_serial, camera_model: Stored with the run when known.
        roll: The same-lot rule and the checkpoint pace (defaults when None).
        run_fields: The roll's recipe (``recipe_name``, ``recipe_version``) for the run.
    """

    def __init__(
        self,
        store: DefectStore,
        *,
        station: str,
        lot_number: str,
        fabric_type: str,
        width_mm: float | None,
        model: ModelVersionInfo,
        settings: Mapping[str, Any] | None = None,
        camera_serial: str | None = None,
        camera_model: str | None = None,
        roll: RollConfig | None = None,
        run_fields: Mapping[str, Any] | None = None,
    ) -> None:
        self.store = store
        self.station = station
        self.lot_number = lot_number
        self.fabric_type = fabric_type
        self.width_mm = width_mm
        self.model = model
        self.settings = settings
        self.camera_serial = camera_serial
        self.camera_model = camera_model
        self.run_fields = dict(run_fields or {})
        roll = roll or RollConfig()
        self.same_lot = roll.same_lot
        self.cadence = CheckpointCadence(
            every_s=roll.checkpoint_every_s, every_mm=roll.checkpoint_every_m * 1000.0
        )
        self.roll_key: uuid.UUID | None = None
        self.run_key: uuid.UUID | None = None
        self._pending: list[EventRecord] = []
        self._lock = threading.Lock()
        self._ended = False
        self.defects = 0
        self.points = 0
        # Written before anything of this roll: close what a crash of this station left open.
        store.writer.submit_lifecycle(RollRecovery(station=station))

    @property
    def started(self) -> bool:
        """True once the roll was started."""
        return self.roll_key is not None

    def begin(self, *, measured_width_mm: float) -> None:
        """Start the roll and the run (first block); later calls do nothing."""
        with self._lock:
            if self.roll_key is not None:
                return
            if self.lot_number == "auto":
                stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
                self.lot_number = f"{self.station}-{stamp}"[:128]
            width = self.width_mm or measured_width_mm
            self.width_mm = width
            writer = self.store.writer
            roll = RollStart(
                lot_number=self.lot_number,
                station=self.station,
                fabric_type=self.fabric_type,
                width_mm=width,
                same_lot=self.same_lot,
            )
            writer.submit_lifecycle(roll)
            run = self.store.start_run(
                roll_key=roll.key,
                station=self.station,
                model=self.model,
                camera_serial=self.camera_serial,
                camera_model=self.camera_model,
                settings=self.settings,
                **self.run_fields,
            )
            self.roll_key, self.run_key = roll.key, run.key
            pending, self._pending = self._pending, []
        for record in pending:
            self.store.writer.submit_event(self._bind(record))
        logger.info(
            "roll %s started (width %.0f mm; %s)",
            self.lot_number,
            width,
            "continues this lot's roll if the station inspected it before"
            if self.same_lot == "continue"
            else "a new roll even if this lot was inspected before",
        )

    def checkpoint(self, coverage: CoverageSnapshot, *, force: bool = False) -> bool:
        """Write a coverage checkpoint when one is due (always with ``force``).

        Returns:
            True when one was queued.
        """
        roll_key, run_key = self.roll_key, self.run_key
        if roll_key is None or run_key is None:
            return False
        now_s = time.monotonic()
        if force:
            self.cadence.mark(position_mm=coverage.acquired_until_mm, now_s=now_s)
        elif not self.cadence.take_if_due(position_mm=coverage.acquired_until_mm, now_s=now_s):
            return False
        self.store.writer.submit_lifecycle(
            CoverageCheckpoint(
                roll_key=roll_key,
                run_key=run_key,
                inspected_until_line=coverage.inspected_until_line,
                inspected_until_mm=coverage.inspected_until_mm,
                acquired_until_mm=coverage.acquired_until_mm,
                inspected_mm=coverage.inspected_mm,
                uninspected_mm=coverage.uninspected_mm,
            )
        )
        return True

    def defect(self, found: FoundDefect) -> None:
        """Queue a defect and its images."""
        if self.roll_key is None:
            raise RuntimeError("a defect before the roll started")  # pragma: no cover - a bug
        record = DefectRecord(
            roll_key=self.roll_key,
            run_key=self.run_key,
            along_mm=found.along_mm,
            across_mm=found.across_mm,
            length_mm=found.length_mm,
            width_mm=found.width_mm,
            area_mm2=found.area_mm2,
            peak_score=found.peak_score,
            points=found.points,
            fabric_class=found.fabric_class,
            is_hole=found.is_hole,
        )
        self.store.writer.submit_defect(
            record, crop_png=found.crop_png, heatmap_png=found.heatmap_png
        )
        self.defects += 1
        self.points += found.points

    def stretch(self, stretch: Stretch) -> None:
        """Record an uninspected stretch, and the dropped work inside it."""
        why = "; ".join(stretch.reasons)
        self.event(
            EventKind.UNINSPECTED_STRETCH,
            f"{stretch.from_mm / 1000:.3f}-{stretch.to_mm / 1000:.3f} m not inspected: {why}",
            severity=Severity.WARNING,
            from_mm=stretch.from_mm,
            to_mm=stretch.to_mm,
            count=stretch.lost_items,
            details={
                "first_line": stretch.first_line,
                "end_line": stretch.end_line,
                "reasons": list(stretch.reasons),
            },
        )
        if stretch.lost_items:
            self.event(
                EventKind.DROPPED_BLOCKS,
                f"{stretch.lost_items} block(s)/tile row(s) dropped: {why}",
                severity=Severity.WARNING,
                from_mm=stretch.from_mm,
                to_mm=stretch.to_mm,
                count=stretch.lost_items,
            )

    def event(
        self,
        kind: str,
        message: str,
        *,
        severity: Severity = Severity.INFO,
        from_mm: float | None = None,
        to_mm: float | None = None,
        count: int | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Queue an event for the roll (held until the roll starts)."""
        record = EventRecord(
            kind=str(kind)[:32],
            message=message,
            severity=severity,
            station=self.station,
            from_mm=from_mm,
            to_mm=to_mm,
            count=count,
            details=details,
        )
        with self._lock:
            if self.roll_key is None:
                self._pending.append(record)
                return
        self.store.writer.submit_event(self._bind(record))

    def finish(self, *, length_inspected_mm: float) -> None:
        """End the run and the roll (once); a roll that never started is only logged."""
        with self._lock:
            if self._ended:
                return
            self._ended = True
            roll_key, run_key = self.roll_key, self.run_key
        if roll_key is None or run_key is None:
            logger.warning("no line block arrived: no roll was started")
            return
        self.store.end_run(run_key)
        self.store.end_roll(roll_key, length_inspected_mm=max(0.0, length_inspected_mm))

    def _bind(self, record: EventRecord) -> EventRecord:
        """The record with this roll's and run's keys."""
        return EventRecord(
            kind=record.kind,
            message=record.message,
            severity=record.severity,
            station=record.station,
            roll_key=self.roll_key,
            run_key=self.run_key,
            from_mm=record.from_mm,
            to_mm=record.to_mm,
            count=record.count,
            details=record.details,
            occurred_at=record.occurred_at,
            key=record.key,
        )

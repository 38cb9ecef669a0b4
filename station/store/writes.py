"""Idempotent batch writes of pipeline records (the write half of the repository).

Every keyed row is inserted with ``ON CONFLICT (key) DO NOTHING`` (SQLite and
PostgreSQL alike), so replaying a record that is already stored changes
nothing. Reference rows (stations, cameras, fabric types, model versions) are
created first, each in its own short transaction, so two stations never hold
locks on them while inserting their defects and cannot deadlock.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, Table, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from station.store.models import (
    Camera,
    Defect,
    Event,
    FabricType,
    InspectionRun,
    ModelVersion,
    Roll,
    Station,
)
from station.store.records import (
    CoverageCheckpoint,
    EventRecord,
    ReviewStatus,
    RollEnd,
    RollRecovery,
    RollStart,
    RunEnd,
    RunStart,
    StoredDefect,
    StoreItem,
    utc_now,
)

if TYPE_CHECKING:
    from station.store.recovery_writes import RollPlace


@dataclass
class BatchResult:
    """Outcome of :meth:`WritesMixin.write_batch`.

    Attributes:
        written: Items now in the database (newly inserted or already there).
        rejected: Items the database cannot hold, with the reason (e.g. unknown roll).
    """

    written: list[StoreItem] = field(default_factory=list)
    rejected: list[tuple[StoreItem, str]] = field(default_factory=list)


def insert_ignoring_duplicates(
    connection: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    unique_columns: Sequence[str],
) -> None:
    """INSERT rows, skipping those whose unique columns already exist."""
    if not rows:
        return
    dialect_insert = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
    statement = dialect_insert(table).on_conflict_do_nothing(index_elements=list(unique_columns))
    connection.execute(statement, list(rows))


class WritesMixin:
    """Write methods of :class:`~station.store.repository.DefectRepository`."""

    _engine: Engine
    # From RecoveryWritesMixin (station/store/recovery_writes.py), mixed into the repository.
    resolve_rolls: Callable[[Connection, Iterable[uuid.UUID | None]], dict[uuid.UUID, RollPlace]]
    remember_rolls: Callable[[dict[uuid.UUID, RollPlace]], None]
    starts_needing_a_roll: Callable[[Connection, list[RollStart]], list[RollStart]]
    write_checkpoints: Callable[[Connection, list[CoverageCheckpoint], BatchResult], None]
    write_recoveries: Callable[[Connection, list[RollRecovery], BatchResult], None]
    emit_committed_logs: Callable[..., None]

    def _init_write_caches(self) -> None:
        self._cache_lock = threading.Lock()
        self._station_ids: dict[str, int] = {}
        self._fabric_ids: dict[str, int] = {}
        self._model_ids: dict[str, int] = {}
        self._camera_ids: dict[tuple[int, str], int] = {}
        self._roll_ids: dict[uuid.UUID, int] = {}
        self._roll_places: dict[uuid.UUID, RollPlace] = {}
        self._log_after_commit: list[tuple[int, str]] = []
        self._run_ids: dict[uuid.UUID, int] = {}

    # -- reference rows ----------------------------------------------------------
    def _get_or_create(
        self,
        cache: dict[Any, int],
        cache_key: Any,
        table: Table,
        values: dict[str, Any],
        unique_columns: Sequence[str],
    ) -> int:
        with self._cache_lock:
            if cache_key in cache:
                return cache[cache_key]
        with self._engine.begin() as connection:
            insert_ignoring_duplicates(
                connection,
                table,
                [{**values, "created_at": utc_now()}],
                unique_columns=unique_columns,
            )
            where = [table.c[name] == values[name] for name in unique_columns]
            row_id = connection.execute(select(table.c.id).where(*where)).scalar_one()
        with self._cache_lock:
            cache[cache_key] = row_id
        return row_id

    def station_id(self, name: str) -> int:
        """Id of the station row named ``name``, created if missing."""
        return self._get_or_create(
            self._station_ids, name, Station.__table__, {"name": name}, ["name"]
        )

    def _fabric_type_id(self, name: str, recipe: dict[str, Any] | None) -> int:
        row_id = self._get_or_create(
            self._fabric_ids, name, FabricType.__table__, {"name": name, "recipe": recipe}, ["name"]
        )
        if recipe is not None:  # the newest recipe of a fabric type wins
            with self._engine.begin() as connection:
                connection.execute(
                    update(FabricType).where(FabricType.id == row_id).values(recipe=recipe)
                )
        return row_id

    def _model_version_id(self, record: RunStart) -> int:
        model = record.model
        return self._get_or_create(
            self._model_ids,
            model.sha256,
            ModelVersion.__table__,
            {
                "sha256": model.sha256,
                "name": model.name,
                "classes": list(model.classes),
                "threshold": float(model.threshold),
            },
            ["sha256"],
        )

    def _camera_id(self, station_id: int, serial: str, model: str | None) -> int:
        return self._get_or_create(
            self._camera_ids,
            (station_id, serial),
            Camera.__table__,
            {"station_id": station_id, "serial": serial, "model": model},
            ["station_id", "serial"],
        )

    def _ensure_reference_rows(self, items: Iterable[StoreItem]) -> None:
        for item in items:
            if isinstance(item, RollStart):
                self.station_id(item.station)
                self._fabric_type_id(
                    item.fabric_type, dict(item.fabric_recipe) if item.fabric_recipe else None
                )
            elif isinstance(item, RunStart):
                station_id = self.station_id(item.station)
                self._model_version_id(item)
                if item.camera_serial:
                    self._camera_id(station_id, item.camera_serial, item.camera_model)
            elif isinstance(item, EventRecord | RollRecovery) and item.station:
                self.station_id(item.station)

    # -- keyed rows ----------------------------------------------------------------
    def _resolve(
        self,
        connection: Connection,
        cache: dict[uuid.UUID, int],
        table: Table,
        keys: Iterable[uuid.UUID | None],
    ) -> dict[uuid.UUID, int]:
        wanted = {key for key in keys if key is not None}
        with self._cache_lock:
            found = {key: cache[key] for key in wanted if key in cache}
        missing = wanted - found.keys()
        if missing:
            rows = connection.execute(
                select(table.c.key, table.c.id).where(table.c.key.in_(missing))
            )
            found.update({row.key: row.id for row in rows})
        return found

    def _remember(self, cache: dict[uuid.UUID, int], resolved: dict[uuid.UUID, int]) -> None:
        with self._cache_lock:
            cache.update(resolved)

    def write_batch(self, items: Sequence[StoreItem]) -> BatchResult:
        """Write items in one transaction, in order; duplicates (same key) are skipped.

        Items whose roll or run is not in the database are returned as rejected
        and not written; everything else is written.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the database failed; nothing was written.
        """
        self._ensure_reference_rows(items)
        result = BatchResult()
        try:
            with self._engine.begin() as connection:
                for _, group in itertools.groupby(items, key=type):
                    self._write_group(connection, list(group), result)
        except Exception:
            with self._cache_lock:  # ids learnt inside a rolled-back transaction may not exist
                self._roll_ids.clear()
                self._roll_places.clear()
                self._run_ids.clear()
            self.emit_committed_logs(committed=False)
            raise
        self.emit_committed_logs(committed=True)
        return result

    def _write_group(
        self, connection: Connection, group: list[StoreItem], result: BatchResult
    ) -> None:
        first = group[0]
        if isinstance(first, RollStart):
            self._write_roll_starts(connection, group, result)  # type: ignore[arg-type]
        elif isinstance(first, RollEnd | RunEnd):
            self._write_ends(connection, group, result)  # type: ignore[arg-type]
        elif isinstance(first, RunStart):
            self._write_run_starts(connection, group, result)  # type: ignore[arg-type]
        elif isinstance(first, StoredDefect):
            self._write_defects(connection, group, result)  # type: ignore[arg-type]
        elif isinstance(first, EventRecord):
            self._write_events(connection, group, result)  # type: ignore[arg-type]
        elif isinstance(first, CoverageCheckpoint):
            self.write_checkpoints(connection, group, result)  # type: ignore[arg-type]
        elif isinstance(first, RollRecovery):
            self.write_recoveries(connection, group, result)  # type: ignore[arg-type]
        else:  # pragma: no cover - the writer only queues the types above
            raise TypeError(f"cannot store {type(first).__name__}")

    def _write_roll_starts(
        self, connection: Connection, group: list[RollStart], result: BatchResult
    ) -> None:
        rows = [
            {
                "key": r.key,
                "lot_number": r.lot_number,
                "station_id": self.station_id(r.station),
                "fabric_type_id": self._fabric_ids[r.fabric_type],
                "width_mm": float(r.width_mm),
                "started_at": r.started_at,
            }
            for r in self.starts_needing_a_roll(connection, group)
        ]
        insert_ignoring_duplicates(connection, Roll.__table__, rows, unique_columns=["key"])
        result.written.extend(group)

    def _write_ends(
        self, connection: Connection, group: list[RollEnd | RunEnd], result: BatchResult
    ) -> None:
        places = self.resolve_rolls(
            connection, (r.roll_key for r in group if isinstance(r, RollEnd))
        )
        for record in group:
            if isinstance(record, RollEnd):
                place = places.get(record.roll_key)
                continued = place is not None and place.base_inspected_mm is not None
                statement = (
                    update(Roll)
                    .where(Roll.id == place.id if continued else Roll.key == record.roll_key)
                    .values(
                        ended_at=record.ended_at,
                        length_inspected_mm=float(record.length_inspected_mm)
                        + (place.base_inspected_mm if continued else 0.0),
                    )
                )
            else:
                statement = (
                    update(InspectionRun)
                    .where(InspectionRun.key == record.run_key)
                    .values(ended_at=record.ended_at)
                )
            if connection.execute(statement).rowcount == 0:
                what = "roll" if isinstance(record, RollEnd) else "run"
                result.rejected.append((record, f"no {what} with this key was started"))
            else:
                result.written.append(record)

    def _write_run_starts(
        self, connection: Connection, group: list[RunStart], result: BatchResult
    ) -> None:
        rolls = self.resolve_rolls(connection, (r.roll_key for r in group))
        rows = []
        for record in group:
            if record.roll_key not in rolls:
                result.rejected.append((record, "the run names a roll that was never started"))
                continue
            station_id = self.station_id(record.station)
            camera_id = (
                self._camera_id(station_id, record.camera_serial, record.camera_model)
                if record.camera_serial
                else None
            )
            rows.append(
                {
                    "key": record.key,
                    "roll_id": rolls[record.roll_key].id,
                    "start_mm": rolls[record.roll_key].start_mm,
                    "camera_id": camera_id,
                    "model_version_id": self._model_ids[record.model.sha256],
                    "settings": dict(record.settings) if record.settings else None,
                    "started_at": record.started_at,
                    "recipe_name": record.recipe_name,
                    "recipe_version": record.recipe_version,
                }
            )
            result.written.append(record)
        insert_ignoring_duplicates(
            connection, InspectionRun.__table__, rows, unique_columns=["key"]
        )
        self.remember_rolls(rolls)

    def _write_defects(
        self, connection: Connection, group: list[StoredDefect], result: BatchResult
    ) -> None:
        rolls = self.resolve_rolls(connection, (d.record.roll_key for d in group))
        runs = self._resolve(
            connection, self._run_ids, InspectionRun.__table__, (d.record.run_key for d in group)
        )
        rows = []
        for stored in group:
            record = stored.record
            if record.roll_key not in rolls:
                result.rejected.append((stored, "the defect names a roll that was never started"))
                continue
            if record.run_key is not None and record.run_key not in runs:
                result.rejected.append((stored, "the defect names a run that was never started"))
                continue
            rows.append(
                {
                    "key": record.key,
                    "roll_id": rolls[record.roll_key].id,
                    "run_id": runs.get(record.run_key) if record.run_key else None,
                    "detected_at": record.detected_at,
                    "along_mm": float(record.along_mm) + rolls[record.roll_key].start_mm,
                    "across_mm": float(record.across_mm),
                    "length_mm": float(record.length_mm),
                    "width_mm": float(record.width_mm),
                    "area_mm2": float(record.area_mm2),
                    "peak_score": float(record.peak_score),
                    "fabric_class": record.fabric_class,
                    "is_hole": bool(record.is_hole),
                    "points": int(record.points),
                    "defect_type": record.defect_type,
                    "crop_path": stored.crop_path,
                    "crop_sha256": stored.crop_sha256,
                    "heatmap_path": stored.heatmap_path,
                    "heatmap_sha256": stored.heatmap_sha256,
                    "image_bytes": int(stored.image_bytes),
                    "review_status": ReviewStatus.UNREVIEWED.value,
                }
            )
            result.written.append(stored)
        insert_ignoring_duplicates(connection, Defect.__table__, rows, unique_columns=["key"])
        self.remember_rolls(rolls)
        self._remember(self._run_ids, runs)

    def _write_events(
        self, connection: Connection, group: list[EventRecord], result: BatchResult
    ) -> None:
        rolls = self.resolve_rolls(connection, (e.roll_key for e in group))
        runs = self._resolve(
            connection, self._run_ids, InspectionRun.__table__, (e.run_key for e in group)
        )
        rows = []
        for event in group:
            place = rolls.get(event.roll_key) if event.roll_key else None
            start = place.start_mm if place is not None else 0.0
            details = dict(event.details) if event.details else {}
            # An event is kept even when its roll or run is unknown: QA must still see it.
            if event.roll_key is not None and event.roll_key not in rolls:
                details["unknown_roll_key"] = str(event.roll_key)
            if event.run_key is not None and event.run_key not in runs:
                details["unknown_run_key"] = str(event.run_key)
            rows.append(
                {
                    "key": event.key,
                    "kind": event.kind,
                    "severity": str(event.severity),
                    "message": event.message,
                    "station_id": self.station_id(event.station) if event.station else None,
                    "roll_id": place.id if place is not None else None,
                    "run_id": runs.get(event.run_key) if event.run_key else None,
                    "from_mm": None if event.from_mm is None else event.from_mm + start,
                    "to_mm": None if event.to_mm is None else event.to_mm + start,
                    "count": event.count,
                    "details": details or None,
                    "occurred_at": event.occurred_at,
                }
            )
            result.written.append(event)
        insert_ignoring_duplicates(connection, Event.__table__, rows, unique_columns=["key"])

"""``DefectStore``: the store as the pipeline and the QA tools open it."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from station.store.config import StoreConfig
from station.store.engine import create_store_engine, safe_url
from station.store.errors import DatabaseUnreachableError, StoreError
from station.store.images import ImageStore
from station.store.journal import Journal
from station.store.migrate import check_schema
from station.store.records import (
    EventKind,
    EventRecord,
    ModelVersionInfo,
    RollEnd,
    RollStart,
    RunEnd,
    RunStart,
    utc_now,
)
from station.store.repository import DefectRepository
from station.store.writer import AckCallback, DefectWriter, WriterStats

log = logging.getLogger(__name__)


class DefectStore:
    """Database + image store + (optionally) the background writer of one process.

    Open it with :meth:`open`; use it as a context manager or call :meth:`close`.

    Attributes:
        config: The configuration it was opened with.
        repository: Queries and review actions (QA tools use this).
        images: The image store (crops and heatmaps).
    """

    def __init__(
        self,
        *,
        config: StoreConfig,
        repository: DefectRepository,
        images: ImageStore,
        writer: DefectWriter | None,
    ) -> None:
        self.config = config
        self.repository = repository
        self.images = images
        self._writer = writer
        self._last_model_by_roll: dict[uuid.UUID, str] = {}

    @classmethod
    def open(
        cls,
        config: StoreConfig,
        *,
        with_writer: bool = True,
        allow_offline: bool = False,
        on_ack: AckCallback | None = None,
    ) -> DefectStore:
        """Open the store.

        Args:
            config: Database URL, image root, journal folder, writer settings.
            with_writer: Start the background writer (the station pipeline wants it; a QA
                tool that only reads and reviews does not). It replays any journal left
                from a previous run as soon as the database answers.
            allow_offline: With the writer, start even when the database is unreachable:
                records are journaled until it answers. Without it an unreachable
                database is an error.
            on_ack: Called from the writer thread with the keys of records that became durable.

        Raises:
            StoreUrlError: the URL is invalid.
            DatabaseUnreachableError: the database cannot be reached (and not allow_offline).
            SchemaError: migrations are missing or newer than this code.
            JournalLockedError: another process writes to the same journal folder.
        """
        engine = create_store_engine(config.url, connect_timeout_s=config.connect_timeout_s)
        schema_verified = True
        try:
            check_schema(engine)
        except DatabaseUnreachableError as error:
            if not (with_writer and allow_offline):
                engine.dispose()
                raise
            schema_verified = False
            log.warning("%s; journaling to %s until it answers", error.message, config.journal_dir)
        except StoreError:
            engine.dispose()
            raise
        repository = DefectRepository(engine)
        images = ImageStore(
            config.image_root, max_bytes=config.image_store_max_bytes, fsync=config.fsync_images
        )
        writer = None
        if with_writer:
            try:
                journal = Journal(config.journal_dir)
            except StoreError:
                engine.dispose()
                raise
            if journal.pending_count:
                log.warning(
                    "the journal holds %d record(s) from an earlier run; replaying them",
                    journal.pending_count,
                )
            writer = DefectWriter(
                repository=repository,
                images=images,
                journal=journal,
                config=config,
                on_ack=on_ack,
                schema_verified=schema_verified,
            )
            writer.start()
        log.info("defect store open: %s, images in %s", safe_url(config.url), images.root)
        return cls(config=config, repository=repository, images=images, writer=writer)

    @property
    def writer(self) -> DefectWriter:
        """The background writer.

        Raises:
            StoreError: the store was opened without one.
        """
        if self._writer is None:
            raise StoreError(
                "this store was opened without a writer",
                hint="open it with DefectStore.open(config, with_writer=True)",
            )
        return self._writer

    # -- the pipeline's calls (all queue through the writer and return at once) -----------
    def start_roll(
        self,
        *,
        lot_number: str,
        station: str,
        fabric_type: str,
        width_mm: float,
        fabric_recipe: Mapping[str, Any] | None = None,
        started_at: datetime | None = None,
    ) -> RollStart:
        """Record that a roll starts; returns the record (its ``key`` names the roll)."""
        record = RollStart(
            lot_number=lot_number,
            station=station,
            fabric_type=fabric_type,
            width_mm=width_mm,
            fabric_recipe=fabric_recipe,
            started_at=started_at or utc_now(),
        )
        self.writer.submit_lifecycle(record)
        return record

    def end_roll(
        self, roll_key: uuid.UUID, *, length_inspected_mm: float, ended_at: datetime | None = None
    ) -> RollEnd:
        """Record that a roll ended and how much of it was inspected."""
        record = RollEnd(
            roll_key=roll_key,
            length_inspected_mm=length_inspected_mm,
            ended_at=ended_at or utc_now(),
        )
        self.writer.submit_lifecycle(record)
        self._last_model_by_roll.pop(roll_key, None)
        return record

    def start_run(
        self,
        *,
        roll_key: uuid.UUID,
        station: str,
        model: ModelVersionInfo,
        camera_serial: str | None = None,
        camera_model: str | None = None,
        settings: Mapping[str, Any] | None = None,
        started_at: datetime | None = None,
        recipe_name: str | None = None,
        recipe_version: int | None = None,
    ) -> RunStart:
        """Record that inspection of a roll starts with ``model``.

        When the roll's previous run (started through this store) used another
        model, a ``model_change`` event is recorded too.
        """
        record = RunStart(
            roll_key=roll_key,
            station=station,
            model=model,
            camera_serial=camera_serial,
            camera_model=camera_model,
            settings=settings,
            started_at=started_at or utc_now(),
            recipe_name=recipe_name,
            recipe_version=recipe_version,
        )
        self.writer.submit_lifecycle(record)
        previous = self._last_model_by_roll.get(roll_key)
        if previous is not None and previous != model.sha256:
            self.writer.submit_event(
                EventRecord(
                    kind=EventKind.MODEL_CHANGE,
                    station=station,
                    roll_key=roll_key,
                    run_key=record.key,
                    message=f"model changed to {model.name} ({model.sha256[:12]})",
                    details={"previous_sha256": previous, "sha256": model.sha256},
                    occurred_at=record.started_at,
                )
            )
        self._last_model_by_roll[roll_key] = model.sha256
        return record

    def end_run(self, run_key: uuid.UUID, *, ended_at: datetime | None = None) -> RunEnd:
        """Record that an inspection run ended."""
        record = RunEnd(run_key=run_key, ended_at=ended_at or utc_now())
        self.writer.submit_lifecycle(record)
        return record

    def close(self, *, timeout_s: float = 30.0) -> WriterStats | None:
        """Drain and stop the writer (if any), then close the database connections."""
        stats = self._writer.close(timeout_s=timeout_s) if self._writer is not None else None
        self.repository.close()
        self.images.close()
        return stats

    def __enter__(self) -> DefectStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

"""The defect writer: takes records from the pipeline without ever blocking it.

Records go into a bounded queue (:mod:`station.store.record_queue`). One
thread takes them in small batches, writes the defects' images, and commits
each batch in one transaction. When the database fails it spills the batch to
the local journal (fsync'ed) and keeps journaling until a retry, with
exponential backoff, replays the journal into the database. Replays are
duplicate-safe: every row has a unique key and is inserted with ON CONFLICT DO
NOTHING. :meth:`DefectWriter.close` drains the queue before it returns.

A record is *acknowledged* (``on_ack`` called with its key, ``acked`` counted)
once it is durable: committed to the database or fsync'ed to the journal.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from station.store.config import StoreConfig
from station.store.errors import (
    CrasStationError,
    InvalidRecordError,
    JournalError,
    WriterClosedError,
)
from station.store.image_saver import DefectImageSaver
from station.store.images import ImageStore
from station.store.journal import Journal, read_frames
from station.store.journal_age import oldest_time, payload_time
from station.store.migrate import check_schema
from station.store.record_queue import QueueEntry, RecordQueue
from station.store.records import (
    LIFECYCLE_RECORDS,
    DefectRecord,
    EventKind,
    EventRecord,
    Severity,
    StoredDefect,
    StoreItem,
    item_key,
    item_to_payload,
    payload_to_item,
    utc_now,
)
from station.store.refusals import keep_rejected, write_isolating_refusals
from station.store.repository import DefectRepository
from station.store.writes import BatchResult

log = logging.getLogger(__name__)

AckCallback = Callable[[Sequence[uuid.UUID]], None]


@dataclass(frozen=True, slots=True)
class WriterStats:
    """Counters of a :class:`DefectWriter` (records, not batches).

    Attributes:
        submitted: Records handed to the writer.
        acked: Records durable (committed, or fsync'ed to the journal).
        committed: Records committed straight to the database.
        journaled: Records written to the journal while the database was unreachable.
        replayed: Journal records since written to the database.
        dropped: Records dropped because the queue was full.
        rejected: Records the database refused (kept in ``rejected.journal``).
        images_skipped: Images not stored (image store full or failing).
        queued: Records waiting in the queue now.
        journal_pending: Records in the journal now, waiting for the database.
        database_online: False while the writer journals instead of committing.
        last_error: The last database or disk error, for the operator.
        journal_oldest_at: When the oldest record waiting in the journal happened (None when
            the journal is empty).
        offline_since: When the database became unreachable (None while it answers).
    """

    submitted: int
    acked: int
    committed: int
    journaled: int
    replayed: int
    dropped: int
    rejected: int
    images_skipped: int
    queued: int
    journal_pending: int
    database_online: bool
    last_error: str | None
    journal_oldest_at: datetime | None = None
    offline_since: datetime | None = None


class DefectWriter:
    """Background writer of one station process. Create it with :meth:`DefectStore.open`.

    Args:
        repository: Where records go.
        images: Where defect images go.
        journal: The local journal (its folder lock is held by this writer).
        config: Queue size, batch size, flush interval and retry timing.
        on_ack: Called from the writer thread with the keys of records that became
            durable; must be quick and must not raise.
        schema_verified: False when the database could not be checked at start-up;
            the writer then journals until it can check it.
    """

    def __init__(
        self,
        *,
        repository: DefectRepository,
        images: ImageStore,
        journal: Journal,
        config: StoreConfig,
        on_ack: AckCallback | None = None,
        schema_verified: bool = True,
    ) -> None:
        self._repository = repository
        self._image_saver = DefectImageSaver(
            images, resume_free_bytes=config.image_store_resume_free_bytes
        )
        self._journal = journal
        self._config = config
        self._on_ack = on_ack
        self._queue = RecordQueue(config.queue_size)
        self._progress = threading.Condition()
        self._done_seq = 0
        self._unsaved: list[StoreItem] = []
        self._extra_events: list[EventRecord] = []
        self._counts = dict.fromkeys(
            ("acked", "committed", "journaled", "replayed", "rejected", "lost"), 0
        )
        self._schema_verified = schema_verified
        self._offline = not schema_verified
        self._outage_started_at: datetime | None = utc_now() if self._offline else None
        self._last_error: str | None = None
        self._journal_oldest_at = self._oldest_pending() if journal.pending_count else None
        self._retry_delay_s = config.retry_initial_s
        self._next_retry_at = 0.0
        self._closed = False
        self._journal_closed = False
        self._closing = threading.Event()
        self._close_deadline = float("inf")
        self._thread = threading.Thread(target=self._run, name="defect-writer", daemon=True)

    # -- the pipeline's side -------------------------------------------------------------
    def start(self) -> None:
        """Start the writer thread (:meth:`DefectStore.open` does this)."""
        self._thread.start()

    def _put(
        self,
        record: object,
        *,
        droppable: bool,
        crop_png: bytes | None = None,
        heatmap_png: bytes | None = None,
    ) -> None:
        if self._closed:
            raise WriterClosedError("the defect writer is closed", hint="open the store again")
        self._queue.put(record, droppable=droppable, crop_png=crop_png, heatmap_png=heatmap_png)

    def submit_defect(
        self,
        record: DefectRecord,
        *,
        crop_png: bytes | None = None,
        heatmap_png: bytes | None = None,
    ) -> None:
        """Queue a defect and its PNG images; returns at once (drops the oldest if full)."""
        if not isinstance(record, DefectRecord):
            raise InvalidRecordError(
                f"submit_defect takes a DefectRecord, got {type(record).__name__}"
            )
        self._put(record, droppable=True, crop_png=crop_png, heatmap_png=heatmap_png)

    def submit_event(self, record: EventRecord) -> None:
        """Queue an event; returns at once."""
        if not isinstance(record, EventRecord):
            raise InvalidRecordError(
                f"submit_event takes an EventRecord, got {type(record).__name__}"
            )
        self._put(record, droppable=True)

    def submit_lifecycle(self, record: StoreItem) -> None:
        """Queue a roll/run start or end, roll recovery or coverage checkpoint; never dropped."""
        if not isinstance(record, LIFECYCLE_RECORDS):
            raise InvalidRecordError(f"not a roll or run record: {type(record).__name__}")
        self._put(record, droppable=False)

    def flush(self, *, timeout_s: float) -> bool:
        """Wait until every record submitted so far is durable (or dropped/rejected).

        Returns:
            True when that happened within ``timeout_s``.
        """
        target = self._queue.last_seq
        deadline = time.monotonic() + timeout_s
        with self._progress:
            while self._done_seq < target or self._unsaved:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._thread.is_alive():
                    return False
                self._progress.wait(timeout=min(remaining, 0.1))
        return True

    def wait_for_database(self, *, timeout_s: float) -> bool:
        """Wait until the journal is empty, i.e. every durable record is in the database."""
        if not self.flush(timeout_s=timeout_s):
            return False
        deadline = time.monotonic() + timeout_s
        while self._journal.pending_count > 0 or self._offline:
            if time.monotonic() > deadline or not self._thread.is_alive():
                return False
            time.sleep(0.02)
        return True

    def stats(self) -> WriterStats:
        """A snapshot of the counters."""
        return WriterStats(
            submitted=self._queue.last_seq,
            acked=self._counts["acked"],
            committed=self._counts["committed"],
            journaled=self._counts["journaled"],
            replayed=self._counts["replayed"],
            dropped=self._queue.dropped_total + self._counts["lost"],
            rejected=self._counts["rejected"],
            images_skipped=self._image_saver.skipped,
            queued=len(self._queue),
            journal_pending=self._journal.pending_count,
            database_online=not self._offline,
            last_error=self._last_error,
            journal_oldest_at=self._journal_oldest_at if self._journal.pending_count else None,
            offline_since=self._outage_started_at if self._offline else None,
        )

    def _oldest_pending(self) -> datetime:
        """When the oldest record of a journal left by an earlier run happened."""
        frames, _, _ = read_frames(self._journal.pending_path)
        times = [when for _, payload in frames if (when := payload_time(payload)) is not None]
        return min(times, default=utc_now())

    def close(self, *, timeout_s: float = 30.0) -> WriterStats:
        """Drain the queue (commit or journal everything), try a last replay, stop the thread.

        Returns:
            The final counters; ``queued`` > 0 means the timeout struck first.
        """
        if not self._closed:
            self._closed = True
            self._close_deadline = time.monotonic() + timeout_s
            self._closing.set()
            self._queue.close()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout_s)
        if self._thread.is_alive():
            log.error(
                "the defect writer did not finish within %.1f s; %d records still queued",
                timeout_s,
                len(self._queue),
            )
        elif not self._journal_closed:
            self._journal.close()
            self._journal_closed = True
        return self.stats()

    # -- the writer thread ---------------------------------------------------------------
    def _run(self) -> None:
        while True:
            closing = self._closing.is_set()
            entries = self._queue.take(
                max_items=self._config.batch_size,
                timeout_s=0.0 if closing else self._config.flush_interval_s,
            )
            try:
                journal_waiting = self._journal.pending_count or not self._schema_verified
                if journal_waiting and time.monotonic() >= self._next_retry_at:
                    self._replay()
            except Exception:  # a bug must not stop the writer; the journal keeps the records
                log.exception("unexpected error while replaying the journal")
            try:
                self._store(entries)
            except Exception as error:
                log.exception("unexpected error in the defect writer")
                self._last_error = f"{type(error).__name__}: {error}"
            self._mark_done(entries)
            if closing and not len(self._queue):
                self._finish()
                return

    def _finish(self) -> None:
        if self._journal.pending_count and time.monotonic() < self._close_deadline:
            self._replay()
        if self._unsaved or self._extra_events:
            self._store([])
        if self._unsaved:
            log.error(
                "%d records could not be saved (database and journal both failing)",
                len(self._unsaved),
            )

    def _mark_done(self, entries: list[QueueEntry]) -> None:
        with self._progress:
            if entries:
                self._done_seq = max(self._done_seq, entries[-1].seq)
            self._progress.notify_all()

    def _ack(self, items: Sequence[StoreItem]) -> None:
        if not items:
            return
        self._counts["acked"] += len(items)
        if self._on_ack is not None:
            try:
                self._on_ack([item_key(item) for item in items])
            except Exception:
                log.exception("the on_ack callback failed")

    # -- preparing: images and writer events -----------------------------------------------
    def _prepare(self, entries: list[QueueEntry]) -> list[StoreItem]:
        """Save images, turn entries into items, and add the writer's own events."""
        items: list[StoreItem] = [
            self._image_saver.save(e.record, crop_png=e.crop_png, heatmap_png=e.heatmap_png)
            if isinstance(e.record, DefectRecord)
            else e.record
            for e in entries
        ]
        self._image_saver.sync()
        dropped, last = self._queue.take_unreported_drops()
        if dropped:
            self._extra_events.append(
                EventRecord(
                    kind=EventKind.STORE_QUEUE_OVERFLOW,
                    severity=Severity.ERROR,
                    roll_key=getattr(last.record, "roll_key", None) if last else None,
                    count=dropped,
                    message=f"the store's queue was full: {dropped} record(s) dropped "
                    "(database or disk too slow)",
                )
            )
        items += self._image_saver.take_events() + self._extra_events
        self._extra_events = []
        return items

    # -- storing: database first, journal when it fails ----------------------------------
    def _store(self, entries: list[QueueEntry]) -> None:
        items = self._unsaved + self._prepare(entries)
        self._unsaved = []
        if not items:
            return
        if self._journal.pending_count == 0 and self._schema_verified and not self._offline:
            result = self._write_to_database(items)
            if result is not None:
                self._counts["committed"] += len(result.written)
                self._ack(result.written)
                return
        self._spill(items)

    def _write_to_database(self, items: Sequence[StoreItem]) -> BatchResult | None:
        """Write items; None when the database failed (the caller journals them)."""
        try:
            result = write_isolating_refusals(self._repository, items)
        except SQLAlchemyError as error:
            self._go_offline(error)
            return None
        except Exception as error:  # a bug: keep the records in the journal, not in the air
            log.exception("unexpected error writing to the database; journaling the batch")
            self._go_offline(error)
            return None
        self._counts["rejected"] += keep_rejected(self._journal, result)
        return result

    def _spill(self, items: list[StoreItem]) -> None:
        try:
            self._journal.append([item_to_payload(item) for item in items])
        except JournalError as error:
            self._last_error = error.message
            log.error("%s; holding %d records in memory", error.message, len(items))
            self._hold_unsaved(items)
            return
        self._counts["journaled"] += len(items)
        if self._journal_oldest_at is None:
            self._journal_oldest_at = oldest_time(items) or utc_now()
        self._ack(items)

    def _hold_unsaved(self, items: list[StoreItem]) -> None:
        excess = len(items) - self._config.queue_size
        kept: list[StoreItem] = []
        for item in items:  # drop the oldest defects/events first, never roll/run records
            if excess > 0 and isinstance(item, StoredDefect | EventRecord):
                excess -= 1
                self._counts["lost"] += 1
                continue
            kept.append(item)
        self._unsaved = kept

    def _go_offline(self, error: BaseException) -> None:
        detail = str(getattr(error, "orig", None) or getattr(error, "message", None) or error)
        self._last_error = (
            detail.strip().splitlines()[0] if detail.strip() else type(error).__name__
        )
        if not self._offline:
            self._offline = True
            self._outage_started_at = utc_now()
            log.warning(
                "database unavailable (%s); journaling records to %s",
                self._last_error,
                self._journal.pending_path,
            )
        self._next_retry_at = time.monotonic() + self._retry_delay_s
        self._retry_delay_s = min(self._retry_delay_s * 2, self._config.retry_max_s)

    def _replay(self) -> None:
        """Write the journal to the database, oldest first; empty it when all went in."""
        replayed = 0
        try:
            if not self._schema_verified:
                check_schema(self._repository.engine)
                self._schema_verified = True
            for chunk in self._journal.iter_pending(chunk_size=self._config.batch_size):
                items: list[StoreItem] = []
                for payload in chunk:
                    try:
                        items.append(payload_to_item(payload))
                    except InvalidRecordError as error:
                        self._journal.reject(payload, reason=error.message)
                        self._counts["rejected"] += 1
                result = write_isolating_refusals(self._repository, items)
                self._counts["rejected"] += keep_rejected(self._journal, result)
                replayed += len(result.written)
                self._counts["replayed"] += len(result.written)
                if time.monotonic() > self._close_deadline:
                    log.warning("closing: journal replay stopped; the rest stays in the journal")
                    return
                self._relieve_queue()
        except (SQLAlchemyError, CrasStationError) as error:
            self._go_offline(error)
            return
        self._journal.clear()
        self._journal_oldest_at = None
        self._retry_delay_s = self._config.retry_initial_s
        if self._offline:
            self._offline = False
            started = self._outage_started_at
            self._outage_started_at = None
            log.warning("database reachable again; %d journaled record(s) written", replayed)
            self._extra_events.append(
                EventRecord(
                    kind=EventKind.DATABASE_OUTAGE,
                    severity=Severity.WARNING,
                    count=replayed,
                    details={
                        "from": started.isoformat() if started else None,
                        "last_error": self._last_error,
                    },
                    message=f"the database was unreachable; {replayed} record(s) "
                    "were journaled and replayed",
                )
            )
        self._last_error = None

    def _relieve_queue(self) -> None:
        """During a long replay, journal queued records so the queue does not overflow."""
        if len(self._queue) <= self._config.queue_size // 2:
            return
        entries = self._queue.take(max_items=len(self._queue), timeout_s=0.0)
        items = self._prepare(entries)
        self._spill(items)
        self._mark_done(entries)

"""``station db status`` and ``station db flush`` as library calls.

The status works with the database down: the local journal's backlog (records
waiting, the oldest one's age) is read from its file without a lock and without
the database. The flush opens the store with its writer, whose own journal
replay writes the backlog (oldest first, refused records kept in
``rejected.journal``), and closes it again: no pipeline runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from station.store.config import StoreConfig
from station.store.engine import create_store_engine, safe_url
from station.store.errors import DatabaseUnreachableError
from station.store.journal import PENDING_NAME, read_frames
from station.store.journal_age import payload_time
from station.store.migrate import SchemaStatus, schema_status
from station.store.records import utc_now
from station.store.repository import DefectRepository
from station.store.store import DefectStore

# Exit statuses of ``station db status`` (documented in docs/store.md).
STATUS_OK = 0
STATUS_SCHEMA_NOT_CURRENT = 1
STATUS_DATABASE_UNREACHABLE = 3


@dataclass(frozen=True)
class JournalBacklog:
    """Records waiting in a journal folder for the database.

    Attributes:
        directory: The journal folder.
        records: Intact records waiting.
        oldest_at: When the oldest of them happened (None when empty or undated).
    """

    directory: Path
    records: int
    oldest_at: datetime | None

    def age_s(self, now: datetime | None = None) -> float | None:
        """Seconds since the oldest waiting record happened."""
        if self.oldest_at is None:
            return None
        return max(0.0, ((now or utc_now()) - self.oldest_at).total_seconds())


@dataclass(frozen=True)
class DatabaseStatus:
    """What ``station db status`` reports.

    Attributes:
        url: The database URL without its password.
        backlog: The local journal's backlog.
        unreachable: Why the database could not be reached (None when it answered).
        schema: Its migration state, when it answered.
        table_counts: Rows in the main tables, when its schema is current.
    """

    url: str
    backlog: JournalBacklog
    unreachable: str | None = None
    schema: SchemaStatus | None = None
    table_counts: dict[str, int] = field(default_factory=dict)

    @property
    def exit_status(self) -> int:
        """0 all well, 1 migrations not current, 3 database unreachable."""
        if self.unreachable is not None:
            return STATUS_DATABASE_UNREACHABLE
        if self.schema is None or not self.schema.known or self.schema.pending:
            return STATUS_SCHEMA_NOT_CURRENT
        return STATUS_OK


@dataclass(frozen=True)
class FlushResult:
    """What ``station db flush`` did.

    Attributes:
        written: Journal records written to the database.
        rejected: Records the database refused (kept in ``rejected.journal``).
        left: Records still in the journal (the database went away again, say).
    """

    written: int
    rejected: int
    left: int


def journal_backlog(directory: str | Path) -> JournalBacklog:
    """The backlog of a journal folder, read without its lock and without the database."""
    folder = Path(directory)
    frames, _, _ = read_frames(folder / PENDING_NAME)
    times = [when for _, payload in frames if (when := payload_time(payload)) is not None]
    return JournalBacklog(directory=folder, records=len(frames), oldest_at=min(times, default=None))


def database_status(config: StoreConfig) -> DatabaseStatus:
    """Reachability, migration state and row counts, and always the journal's backlog.

    Raises:
        StoreUrlError: the URL is invalid.
    """
    backlog = journal_backlog(config.journal_dir)
    url = safe_url(config.url)
    engine = create_store_engine(config.url, connect_timeout_s=config.connect_timeout_s)
    try:
        schema = schema_status(engine)
        counts: dict[str, int] = {}
        if schema.known and not schema.pending:
            counts = DefectRepository(engine).table_counts()
    except DatabaseUnreachableError as error:
        return DatabaseStatus(url=url, backlog=backlog, unreachable=error.message)
    finally:
        engine.dispose()
    return DatabaseStatus(url=url, backlog=backlog, schema=schema, table_counts=counts)


def flush_journal(config: StoreConfig, *, timeout_s: float = 120.0) -> FlushResult:
    """Write the journal's records to the database with the store's own replay, then close.

    Args:
        config: The store configuration (its database and journal folder).
        timeout_s: Longest time the replay may take; what is left stays in the journal.

    Raises:
        DatabaseUnreachableError: the database cannot be reached.
        SchemaError: migrations are missing or newer than this code.
        JournalLockedError: a running station holds the journal (it replays it itself).
    """
    store = DefectStore.open(config)
    writer = store.writer
    store.close(timeout_s=timeout_s)
    stats = writer.stats()
    return FlushResult(written=stats.replayed, rejected=stats.rejected, left=stats.journal_pending)

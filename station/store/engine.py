"""Database engines: SQLite (one station) and PostgreSQL (a plant), same code.

SQLite runs in WAL mode with ``synchronous=FULL``: a commit that returned is on
disk even after a power cut (NORMAL would only keep the file consistent, and
the writer acknowledges a defect when its commit returns). PostgreSQL
connections time out and send TCP keepalives, so a server that disappears
turns into an error the writer can act on instead of a hang.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError

from station.store.errors import (
    DatabaseUnreachableError,
    SchemaNotInitialisedError,
    StoreUrlError,
)

SQLITE_BUSY_TIMEOUT_MS = 10_000
# PostgreSQL: a lock held elsewhere or a stalled server must become an error (the
# writer then journals) rather than a wait that fills the writer's queue.
POSTGRES_LOCK_TIMEOUT_MS = 10_000
POSTGRES_STATEMENT_TIMEOUT_MS = 120_000


def parse_url(url: str) -> URL:
    """Parse and check a database URL.

    Raises:
        StoreUrlError: the URL cannot be parsed or names a database other than
            SQLite or PostgreSQL.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as error:
        raise StoreUrlError(
            f"cannot parse database URL {url!r}: {error}",
            hint="use sqlite:///path/to/defects.sqlite3 or "
            "postgresql+psycopg://user@host:5432/database",
        ) from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise StoreUrlError(
            f"database URL {safe_url(parsed)} names {backend!r}; "
            "only sqlite and postgresql are supported",
            hint="use sqlite:///path/to/defects.sqlite3 or postgresql+psycopg://user@host:5432/db",
        )
    if backend == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise StoreUrlError(
            "an in-memory SQLite database would lose every defect when the station stops",
            hint="give a file: sqlite:///station_data/defects.sqlite3",
        )
    if backend == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def safe_url(url: str | URL) -> str:
    """The URL with its password hidden, for messages and logs."""
    try:
        return (make_url(url) if isinstance(url, str) else url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "<unparseable URL>"


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def _postgres_options(url: URL) -> str:
    """Server options: our timeouts first, so that ones given in the URL win."""
    ours = (
        f"-c lock_timeout={POSTGRES_LOCK_TIMEOUT_MS} "
        f"-c statement_timeout={POSTGRES_STATEMENT_TIMEOUT_MS}"
    )
    given = url.query.get("options")
    if isinstance(given, tuple):
        given = " ".join(given)
    return f"{ours} {given}" if given else ours


def create_store_engine(
    url: str, *, connect_timeout_s: float = 5.0, create: bool = False
) -> Engine:
    """Create an engine for ``url`` with the store's durability and timeout settings.

    Args:
        url: SQLite or PostgreSQL SQLAlchemy URL.
        connect_timeout_s: How long to wait for a database server to answer.
        create: Create a missing SQLite file (and its folder); only migrations do.

    Raises:
        StoreUrlError: the URL is invalid, or its driver is not installed.
        SchemaNotInitialisedError: the SQLite file does not exist (and not ``create``).
    """
    parsed = parse_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            path = Path(parsed.database or "").expanduser()
            if create:
                path.parent.mkdir(parents=True, exist_ok=True)
            elif not path.is_file():
                raise SchemaNotInitialisedError(
                    f"there is no database file {path}",
                    hint=f"run `station db upgrade --url {safe_url(parsed)}` to create it, "
                    "or fix the path in the URL",
                )
            engine = create_engine(
                parsed,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            )
            event.listen(engine, "connect", _set_sqlite_pragmas)
            return engine
        return create_engine(
            parsed,
            pool_pre_ping=True,
            pool_size=4,
            max_overflow=4,
            connect_args={
                "connect_timeout": max(1, round(connect_timeout_s)),
                "keepalives": 1,
                "keepalives_idle": 10,
                "keepalives_interval": 5,
                "keepalives_count": 3,
                "options": _postgres_options(parsed),
            }
            # A name given in the URL (e.g. one per station) wins over the default.
            | ({} if "application_name" in parsed.query else {"application_name": "cras-station"}),
        )
    except (NoSuchModuleError, ModuleNotFoundError) as error:
        raise StoreUrlError(
            f"no database driver for {safe_url(parsed)}: {error}",
            hint="use postgresql+psycopg://... (psycopg 3 is installed with the station)",
        ) from None


def is_connection_error(error: BaseException) -> bool:
    """True for errors that mean "database unreachable or gone", worth retrying later."""
    if isinstance(error, OperationalError):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def unreachable_error(url: str | URL, error: BaseException) -> DatabaseUnreachableError:
    """A :class:`DatabaseUnreachableError` explaining ``error`` for ``url``."""
    detail = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
    return DatabaseUnreachableError(
        f"cannot reach the database {safe_url(url)}: {detail}",
        hint="check that the database server is running and that host, port, user and "
        "database in the URL are right (station config `store.url` or --url)",
    )

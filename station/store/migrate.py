"""Schema migrations, run from Python so ``station db upgrade`` works from an installed package."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from station.store.engine import is_connection_error, safe_url, unreachable_error
from station.store.errors import (
    SchemaNotInitialisedError,
    SchemaOutOfDateError,
    SchemaTooNewError,
    StoreError,
)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    """Where a database stands against this code's migrations.

    Attributes:
        current: The database's revision (None: never migrated).
        head: The newest revision this code knows.
        pending: Revisions ``station db upgrade`` would apply, oldest first.
        known: False when ``current`` is a revision this code does not know (a newer station).
    """

    current: str | None
    head: str
    pending: tuple[str, ...]
    known: bool

    @property
    def up_to_date(self) -> bool:
        return self.known and self.current == self.head


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The newest migration revision in this package."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def schema_status(engine: Engine) -> SchemaStatus:
    """Read the database's migration revision.

    Raises:
        DatabaseUnreachableError: the database cannot be reached.
    """
    scripts = ScriptDirectory.from_config(_config())
    head = head_revision()
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as error:
        if is_connection_error(error):
            raise unreachable_error(engine.url, error) from None
        raise
    try:
        known = current is None or scripts.get_revision(current) is not None
    except Exception:  # alembic raises several types for an unknown revision
        known = False
    pending: tuple[str, ...] = ()
    if known:
        lower = current or "base"
        pending = tuple(
            script.revision for script in reversed(list(scripts.walk_revisions(lower, "heads")))
        )
        pending = tuple(rev for rev in pending if rev != current)
    return SchemaStatus(current=current, head=head, pending=pending, known=known)


def check_schema(engine: Engine) -> None:
    """Raise unless the database is migrated to exactly this code's head revision.

    Raises:
        DatabaseUnreachableError: the database cannot be reached.
        SchemaNotInitialisedError: no migrations were ever applied.
        SchemaOutOfDateError: migrations are pending.
        SchemaTooNewError: a newer station version migrated the database.
    """
    status = schema_status(engine)
    shown = safe_url(engine.url)
    upgrade = f"run `station db upgrade --url {shown}`"
    if status.current is None:
        raise SchemaNotInitialisedError(
            f"the database {shown} has no defect tables yet", hint=f"{upgrade} to create them"
        )
    if not status.known:
        raise SchemaTooNewError(
            f"the database {shown} is at migration {status.current}, which this station "
            f"software does not know (it knows up to {status.head})",
            hint="update the station software to the version that migrated this database",
        )
    if status.pending:
        raise SchemaOutOfDateError(
            f"the database {shown} is at migration {status.current}; "
            f"{len(status.pending)} migration(s) are pending ({', '.join(status.pending)})",
            hint=upgrade,
        )


def upgrade_database(engine: Engine, *, revision: str = "head") -> SchemaStatus:
    """Apply pending migrations and return the new status.

    Raises:
        DatabaseUnreachableError: the database cannot be reached.
        StoreError: a migration failed (nothing of it is kept on PostgreSQL).
    """
    try:
        with engine.begin() as connection:
            config = _config()
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except SQLAlchemyError as error:
        if is_connection_error(error) and "no such" not in str(error):
            raise unreachable_error(engine.url, error) from None
        raise StoreError(
            f"migrating {safe_url(engine.url)} failed: {error}",
            hint="check the database user's rights to create tables; the log has details",
        ) from error
    return schema_status(engine)

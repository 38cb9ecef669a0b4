"""Alembic environment: migrates the connection the station hands over.

``station db upgrade`` (see :mod:`station.store.migrate`) passes an open
connection in ``config.attributes["connection"]``; plain ``alembic -c
station/store/alembic.ini -x url=...`` works too. The same scripts serve SQLite
and PostgreSQL; on PostgreSQL they run in the first schema of the connection's
search_path, under an advisory lock so two stations upgrading at once take turns.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from station.store.engine import create_store_engine
from station.store.models import Base

# Any fixed number: the lock only has to be the same for every station.
_MIGRATION_LOCK_ID = 7_305_541_023


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
            )
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option(
        "sqlalchemy.url"
    )
    engine = create_store_engine(url)
    try:
        with engine.connect() as own_connection:
            _run(own_connection)
            own_connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; pass -x url=...")
run_migrations_online()

"""Migrations build the models' schema on SQLite and PostgreSQL; bad states say what to do."""

from __future__ import annotations

import shutil

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from station.cli import main
from station.store.config import StoreConfig
from station.store.engine import create_store_engine
from station.store.errors import (
    DatabaseUnreachableError,
    SchemaNotInitialisedError,
    SchemaOutOfDateError,
    SchemaTooNewError,
    StoreUrlError,
)
from station.store.migrate import check_schema, head_revision, schema_status, upgrade_database
from station.store.models import Base
from station.store.repository import DefectRepository
from station.store.store import DefectStore


def test_upgrade_creates_the_models_schema_and_is_repeatable(db_url: str) -> None:
    engine = create_store_engine(db_url, create=True)
    try:
        before = schema_status(engine)
        assert before.current is None and before.pending[-1] == head_revision()
        assert before.pending[0] == "0001"
        after = upgrade_database(engine)
        assert after.up_to_date and after.current == head_revision()
        assert upgrade_database(engine).current == after.current  # a second upgrade is a no-op
        with engine.connect() as connection:
            diff = compare_metadata(
                MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata
            )
            tables = set(inspect(connection).get_table_names())
        assert diff == [], f"models and migrations disagree: {diff}"
        assert set(Base.metadata.tables) <= tables
        check_schema(engine)
    finally:
        engine.dispose()


def test_missing_migrations_are_an_error_that_names_the_command(db_url: str) -> None:
    engine = create_store_engine(db_url, create=True)
    try:
        with pytest.raises(SchemaNotInitialisedError) as raised:
            check_schema(engine)
        assert "station db upgrade --url" in raised.value.hint
    finally:
        engine.dispose()
    with pytest.raises(SchemaNotInitialisedError):
        DefectRepository.connect(db_url)


def test_out_of_date_and_too_new_schemas_are_refused(migrated_url: str, tmp_path) -> None:
    engine = create_store_engine(migrated_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = 'ffff_future'"))
        with pytest.raises(SchemaTooNewError):
            check_schema(engine)
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM alembic_version"))
            connection.execute(
                text("INSERT INTO alembic_version (version_num) VALUES (:head)"),
                {"head": head_revision()},
            )
        check_schema(engine)  # back at head
    finally:
        engine.dispose()
    config = StoreConfig(url=migrated_url, image_root=tmp_path / "i", journal_dir=tmp_path / "j")
    DefectStore.open(config, with_writer=False).close()


NEXT_MIGRATION = '''
"""A later schema change, as a newer station version would ship it."""
import sqlalchemy as sa
from alembic import op

revision = "0999"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("later_table", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table("later_table")
'''


def test_pending_migrations_are_detected_and_applied(
    migrated_url: str, tmp_path, monkeypatch
) -> None:
    from station.store import migrate

    newer = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, newer, ignore=shutil.ignore_patterns("__pycache__"))
    (newer / "versions" / "0999_later.py").write_text(
        NEXT_MIGRATION.replace('down_revision = "0002"', f'down_revision = "{head_revision()}"')
    )
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", newer)  # the code of a newer station version
    engine = create_store_engine(migrated_url)
    try:
        with pytest.raises(SchemaOutOfDateError) as raised:
            check_schema(engine)
        assert "0999" in raised.value.message and "station db upgrade" in raised.value.hint
        assert upgrade_database(engine).up_to_date
        with engine.connect() as connection:
            assert "later_table" in inspect(connection).get_table_names()
        check_schema(engine)
    finally:
        engine.dispose()


def test_bad_urls_and_unreachable_servers_raise_clear_errors(tmp_path) -> None:
    with pytest.raises(StoreUrlError):
        create_store_engine("mysql://x@localhost/db")
    with pytest.raises(StoreUrlError):
        create_store_engine("sqlite://")  # in memory: would lose everything
    with pytest.raises(StoreUrlError):
        create_store_engine("not a url")
    with pytest.raises(SchemaNotInitialisedError) as missing:
        create_store_engine(f"sqlite:///{tmp_path / 'nope.sqlite3'}")
    assert "station db upgrade" in missing.value.hint
    assert not (tmp_path / "nope.sqlite3").exists()  # looking must not create a file


@pytest.mark.postgres
def test_unreachable_postgres_is_a_clear_error(postgres_url: str) -> None:
    from tests.integration.store.helpers import with_port

    engine = create_store_engine(with_port(postgres_url, 1), connect_timeout_s=2)
    try:
        with pytest.raises(DatabaseUnreachableError) as raised:
            check_schema(engine)
        assert "127.0.0.1" in raised.value.message and raised.value.hint
    finally:
        engine.dispose()


def test_cli_upgrade_and_status(db_url: str, capsys) -> None:
    assert main(["db", "status", "--url", db_url]) in (1, 2)  # not migrated (or no file yet)
    assert main(["db", "upgrade", "--url", db_url]) == 0
    assert f"migrated from empty to {head_revision()}" in capsys.readouterr().out
    assert main(["db", "upgrade", "--url", db_url]) == 0
    assert f"already at migration {head_revision()}" in capsys.readouterr().out
    assert main(["db", "status", "--url", db_url]) == 0
    out = capsys.readouterr().out
    assert "up to date" in out and "defects:" in out

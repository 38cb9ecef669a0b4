"""Fixtures: every store test runs against SQLite and against the real PostgreSQL.

PostgreSQL tests each get a fresh schema (search_path set through the URL), so
reruns and other people's parallel sessions never see each other's rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from station.store.config import StoreConfig
from station.store.engine import create_store_engine
from station.store.migrate import upgrade_database
from station.store.repository import DefectRepository
from station.store.store import DefectStore
from tests.integration.store.helpers import create_pg_schema, drop_pg_schema, pg_url_in_schema


@contextmanager
def fresh_pg_schema_url(base_url: str) -> Iterator[str]:
    """A URL whose connections work in a new schema, dropped afterwards."""
    schema = create_pg_schema(base_url)
    try:
        yield pg_url_in_schema(base_url, schema)
    finally:
        drop_pg_schema(base_url, schema)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a fresh PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'defects.sqlite3'}"
        return
    with fresh_pg_schema_url(request.getfixturevalue("postgres_url")) as url:
        yield url


def migrate(url: str) -> str:
    engine = create_store_engine(url, create=True)
    upgrade_database(engine)
    engine.dispose()
    return url


def fast_config(url: str, tmp_path: Path) -> StoreConfig:
    """A store configuration with fast retries for tests."""
    return StoreConfig(
        url=url,
        image_root=tmp_path / "images",
        journal_dir=tmp_path / "journal",
        batch_size=64,
        flush_interval_s=0.01,
        retry_initial_s=0.05,
        retry_max_s=0.3,
        connect_timeout_s=2,
    )


@pytest.fixture
def migrated_url(db_url: str) -> str:
    """``db_url`` with the migrations applied."""
    return migrate(db_url)


@pytest.fixture
def store_config(migrated_url: str, tmp_path: Path) -> StoreConfig:
    """A store configuration on the migrated database (SQLite and PostgreSQL)."""
    return fast_config(migrated_url, tmp_path)


@pytest.fixture
def pg_migrated_url(postgres_url: str) -> Iterator[str]:
    """A migrated fresh schema on the real PostgreSQL server (for server-only tests)."""
    with fresh_pg_schema_url(postgres_url) as url:
        yield migrate(url)


@pytest.fixture
def pg_store_config(pg_migrated_url: str, tmp_path: Path) -> StoreConfig:
    return fast_config(pg_migrated_url, tmp_path)


@pytest.fixture
def store(store_config: StoreConfig) -> Iterator[DefectStore]:
    """An open store with its writer; closed (drained) afterwards."""
    opened = DefectStore.open(store_config)
    yield opened
    opened.close(timeout_s=30)


@pytest.fixture
def repository(migrated_url: str) -> Iterator[DefectRepository]:
    repo = DefectRepository.connect(migrated_url)
    yield repo
    repo.close()

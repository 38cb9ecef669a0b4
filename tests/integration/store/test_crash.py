"""Crash safety for real: a station process is SIGKILLed while logging defects.

After a restart, every record the writer had acknowledged is in the database
exactly once, and the database passes its integrity checks.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from station.store.config import StoreConfig
from station.store.store import DefectStore
from tests.integration.store.child_process import start_child
from tests.integration.store.helpers import count_keys, with_port

KEYED_TABLES = ("defects", "rolls", "inspection_runs", "events")


def _restart_and_check(config: StoreConfig, acked: set[uuid.UUID]) -> DefectStore:
    """Reopen the store as a restarted station would; check every acked key is stored once."""
    store = DefectStore.open(config)
    assert store.writer.wait_for_database(timeout_s=60), store.writer.stats()
    found: dict[uuid.UUID, int] = {}
    for table in KEYED_TABLES:
        for key, count in count_keys(store.repository.engine, table, acked).items():
            found[key] = found.get(key, 0) + count
    missing = acked - found.keys()
    assert not missing, f"{len(missing)} acknowledged records lost, e.g. {sorted(missing)[:3]}"
    assert set(found.values()) == {1}, "an acknowledged record is stored more than once"
    return store


def _check_integrity(store: DefectStore) -> None:
    engine = store.repository.engine
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            assert connection.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
            assert connection.execute(text("PRAGMA foreign_key_check")).all() == []
        else:
            orphans = connection.execute(
                text(
                    "SELECT count(*) FROM defects d LEFT JOIN rolls r ON d.roll_id = r.id "
                    "WHERE r.id IS NULL"
                )
            ).scalar_one()
            assert orphans == 0


def _check_images(store: DefectStore, acked: set[uuid.UUID]) -> int:
    """Every acknowledged defect's crop is on disk and matches its hash."""
    checked = 0
    defect_keys = count_keys(store.repository.engine, "defects", acked)
    for key in defect_keys:
        view = store.repository.get_defect(key)
        if view.crop_path is not None:
            store.images.read(view.crop_path, expected_sha256=view.crop_sha256)
            checked += 1
    return checked


@pytest.mark.slow
def test_sigkill_while_committing_loses_no_acknowledged_defect(
    store_config: StoreConfig, tmp_path: Path
) -> None:
    child = start_child(
        url=store_config.url,
        image_root=store_config.image_root,
        journal_dir=store_config.journal_dir,
        count=1_000_000,
    )
    child.wait_for_acks(600, timeout_s=60)
    child.kill()
    acked = child.acked
    assert len(acked) >= 600 and child.value("DONE") is None  # killed mid-stream
    store = _restart_and_check(store_config, acked)
    try:
        _check_integrity(store)
        assert _check_images(store, acked) > 0
        assert store.repository.get_roll(roll_key=uuid.UUID(child.value("ROLL"))).ended_at is None
    finally:
        store.close()


@pytest.mark.slow
@pytest.mark.postgres
def test_sigkill_while_journaling_during_an_outage_loses_nothing(
    pg_store_config: StoreConfig,
) -> None:
    store_config = pg_store_config
    unreachable = with_port(store_config.url, 1)  # nothing listens on port 1
    child = start_child(
        url=unreachable,
        image_root=store_config.image_root,
        journal_dir=store_config.journal_dir,
        count=1_000_000,
        allow_offline=True,
    )
    child.wait_for_acks(500, timeout_s=60)
    child.kill()
    acked = child.acked
    assert len(acked) >= 500
    store = _restart_and_check(store_config, acked)  # same journal, right URL: replay
    try:
        _check_integrity(store)
        assert store.writer.stats().replayed >= len(acked)
    finally:
        store.close()

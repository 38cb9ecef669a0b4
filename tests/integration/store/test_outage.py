"""The PostgreSQL server goes away and comes back; two stations share one server.

Nothing acknowledged is lost: the writer journals while the server is
unreachable and replays the journal when it answers again.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from station.store.config import StoreConfig
from station.store.errors import DatabaseUnreachableError
from station.store.records import EventKind
from station.store.store import DefectStore
from tests.integration.store.child_process import start_child
from tests.integration.store.helpers import count_keys, defect, with_port
from tests.integration.store.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres


def _via(proxy: TcpProxy, url: str) -> str:
    return with_port(url, proxy.port)


def test_server_unreachable_for_a_while_loses_nothing(pg_store_config: StoreConfig) -> None:
    target = make_url(pg_store_config.url)
    proxy = TcpProxy(target.host, target.port)
    proxy.restore()
    pg_store_config.url = _via(proxy, pg_store_config.url)
    store = DefectStore.open(pg_store_config)
    try:
        roll = store.start_roll(
            lot_number="OUT-1", station="st-1", fabric_type="denim", width_mm=1600
        )
        before = [defect(roll.key, i) for i in range(100)]
        for record in before:
            store.writer.submit_defect(record)
        assert store.writer.flush(timeout_s=20)
        assert store.writer.stats().journaled == 0

        proxy.cut()  # the server is gone: open connections reset, new ones refused
        during = [defect(roll.key, 100 + i) for i in range(300)]
        for record in during:
            store.writer.submit_defect(record)
            time.sleep(0.001)
        assert store.writer.flush(timeout_s=20)  # durable in the journal
        stats = store.writer.stats()
        assert not stats.database_online and stats.journaled >= 300 and stats.journal_pending >= 300
        assert stats.last_error

        proxy.restore()
        after = [defect(roll.key, 400 + i) for i in range(100)]
        for record in after:
            store.writer.submit_defect(record)
        assert store.writer.wait_for_database(timeout_s=30), store.writer.stats()
        stats = store.writer.stats()
        assert stats.database_online and stats.journal_pending == 0 and stats.dropped == 0
        records = before + during + after
        assert count_keys(store.repository.engine, "defects", [r.key for r in records]) == {
            r.key: 1 for r in records
        }
        outage = store.repository.list_events(kinds=(EventKind.DATABASE_OUTAGE,))
        assert len(outage) == 1 and outage[0].count >= 300
    finally:
        store.close()
        proxy.cut()


def test_killed_server_connections_lose_nothing(
    pg_store_config: StoreConfig, postgres_url: str
) -> None:
    name = f"station-{uuid.uuid4().hex[:8]}"  # only this test's connections get killed
    pg_store_config.url = (
        make_url(pg_store_config.url)
        .update_query_dict({"application_name": name})
        .render_as_string(hide_password=False)
    )
    admin = create_engine(postgres_url)
    store = DefectStore.open(pg_store_config)
    killed = 0
    try:
        roll = store.start_roll(
            lot_number="KILL-1", station="st-1", fabric_type="denim", width_mm=1600
        )
        records = [defect(roll.key, i) for i in range(1500)]
        for index, record in enumerate(records):
            store.writer.submit_defect(record)
            if index % 300 == 150:
                with admin.begin() as connection:
                    killed += connection.execute(
                        text(
                            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE application_name = :name"
                        ),
                        {"name": name},
                    ).scalar_one()
            time.sleep(0.0005)
        assert store.writer.wait_for_database(timeout_s=30), store.writer.stats()
        assert killed > 0
        assert count_keys(store.repository.engine, "defects", [r.key for r in records]) == {
            r.key: 1 for r in records
        }
        assert store.writer.stats().dropped == 0
    finally:
        store.close()
        admin.dispose()


def test_unreachable_at_start_is_an_error_unless_offline_is_allowed(
    pg_store_config: StoreConfig,
) -> None:
    right_url = pg_store_config.url
    pg_store_config.url = with_port(right_url, 1)
    with pytest.raises(DatabaseUnreachableError):
        DefectStore.open(pg_store_config)
    store = DefectStore.open(pg_store_config, allow_offline=True)
    roll = store.start_roll(lot_number="OFF-1", station="st-1", fabric_type="denim", width_mm=1600)
    records = [defect(roll.key, i) for i in range(40)]
    for record in records:
        store.writer.submit_defect(record)
    stats = store.close(timeout_s=20)
    assert stats.acked == 41 and stats.journal_pending == 41 and not stats.database_online
    pg_store_config.url = right_url
    store = DefectStore.open(pg_store_config)
    try:
        assert store.writer.wait_for_database(timeout_s=20)
        assert len(count_keys(store.repository.engine, "defects", [r.key for r in records])) == 40
    finally:
        store.close()


@pytest.mark.slow
def test_two_stations_log_into_one_database_concurrently(
    pg_migrated_url: str, tmp_path: Path
) -> None:
    children = [
        start_child(
            url=pg_migrated_url,
            image_root=tmp_path / f"images-{name}",
            journal_dir=tmp_path / f"journal-{name}",
            count=1000,
            station=name,
            lot=f"LOT-{name}",
        )
        for name in ("station-a", "station-b")
    ]
    codes = [child.finish(timeout_s=120) for child in children]
    assert codes == [0, 0], [child.stderr() for child in children]
    config = StoreConfig(
        url=pg_migrated_url, image_root=tmp_path / "images-a", journal_dir=tmp_path / "journal-a"
    )
    store = DefectStore.open(config, with_writer=False)
    try:
        for child in children:
            assert child.value("DONE").endswith("dropped=0 rejected=0 journal_pending=0"), (
                child.lines[-1]
            )
            roll = store.repository.get_roll(roll_key=uuid.UUID(child.value("ROLL")))
            assert roll.ended_at is not None
            acked = child.acked
            assert len(acked) == 1002  # 1000 defects, the roll and the run (ends ack their keys)
            found = count_keys(store.repository.engine, "defects", acked)
            assert len(found) == 1000 and set(found.values()) == {1}
        rolls = store.repository.list_rolls()
        assert sorted(r.station for r in rolls) == ["station-a", "station-b"]
        assert {r.fabric_type for r in rolls} == {"denim"}  # one shared fabric type row
    finally:
        store.close()

"""``station db status`` with the database unreachable, and ``station db flush`` after it.

The outage is real: the station's URL goes through a TCP proxy that is cut.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import make_url

from station.cli import main
from station.store.backlog import STATUS_DATABASE_UNREACHABLE, journal_backlog
from station.store.config import StoreConfig
from station.store.engine import create_store_engine
from station.store.records import utc_now
from station.store.store import DefectStore
from tests.integration.store.child_process import start_child
from tests.integration.store.helpers import count_keys, defect, with_port
from tests.integration.store.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres

DEFECTS = 40


def _config_file(config: StoreConfig, tmp_path: Path) -> str:
    path = tmp_path / "station.yaml"
    path.write_text(yaml.safe_dump({"store": config.model_dump(mode="json")}))
    return str(path)


def test_status_reports_the_backlog_while_down_and_flush_writes_it_after(
    pg_store_config: StoreConfig, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    direct_url = pg_store_config.url
    target = make_url(direct_url)
    proxy = TcpProxy(target.host, target.port)
    proxy.restore()
    pg_store_config.url = with_port(direct_url, proxy.port)
    config_path = _config_file(pg_store_config, tmp_path)
    try:
        proxy.cut()  # the database is gone before the station starts
        store = DefectStore.open(pg_store_config, allow_offline=True)
        roll = store.start_roll(
            lot_number="FLUSH-1", station="st-1", fabric_type="denim", width_mm=1600
        )
        two_hours_ago = utc_now() - timedelta(hours=2)
        records = [
            defect(roll.key, i, detected_at=two_hours_ago + timedelta(seconds=i))
            for i in range(DEFECTS)
        ]
        for record in records:
            store.writer.submit_defect(record)
        stats = store.close(timeout_s=20)
        assert stats is not None and stats.journal_pending == DEFECTS + 1  # + the roll

        assert main(["db", "status", "--config", config_path]) == STATUS_DATABASE_UNREACHABLE
        captured = capsys.readouterr()
        assert "unreachable: cannot reach the database" in captured.out
        assert f"journal:   {DEFECTS + 1} record(s) waiting" in captured.out
        assert "oldest 2.0 h old" in captured.out
        assert "Traceback" not in captured.out + captured.err
        backlog = journal_backlog(pg_store_config.journal_dir)
        assert backlog.records == DEFECTS + 1 and backlog.oldest_at == two_hours_ago

        assert main(["db", "flush", "--config", config_path]) == 2  # still down: one message
        captured = capsys.readouterr()
        assert "cannot reach the database" in captured.err and "Traceback" not in captured.err
        assert journal_backlog(pg_store_config.journal_dir).records == DEFECTS + 1

        proxy.restore()
        assert main(["db", "flush", "--config", config_path]) == 0
        out = capsys.readouterr().out
        assert f"wrote {DEFECTS + 1} journal record(s)" in out and "0 left in the journal" in out
        backlog = journal_backlog(pg_store_config.journal_dir)
        assert backlog.records == 0 and backlog.oldest_at is None

        engine = create_store_engine(direct_url)
        try:
            keys = [r.key for r in records]
            assert count_keys(engine, "defects", keys) == dict.fromkeys(keys, 1)
            assert count_keys(engine, "rolls", [roll.key]) == {roll.key: 1}
        finally:
            engine.dispose()

        assert main(["db", "status", "--config", config_path]) == 0
        out = capsys.readouterr().out
        assert "up to date" in out and "journal:   0 record(s) waiting" in out
    finally:
        proxy.cut()


@pytest.mark.slow
def test_flush_empties_a_journal_left_by_an_outage_and_a_sigkill(
    pg_store_config: StoreConfig, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """A station journaling through an outage is SIGKILLed; ``db flush`` writes every record."""
    unreachable = with_port(pg_store_config.url, 1)  # nothing listens on port 1
    child = start_child(
        url=unreachable,
        image_root=pg_store_config.image_root,
        journal_dir=pg_store_config.journal_dir,
        count=1_000_000,
        allow_offline=True,
    )
    child.wait_for_acks(200, timeout_s=60)
    child.kill()
    acked = child.acked
    assert len(acked) >= 200
    left = journal_backlog(pg_store_config.journal_dir).records
    assert left >= len(acked)  # every acknowledged record waits in the journal

    config_path = _config_file(pg_store_config, tmp_path)  # the right URL: the database is up
    assert main(["db", "status", "--config", config_path]) == 0  # reachable, with a backlog
    assert f"journal:   {left} record(s) waiting" in capsys.readouterr().out
    assert main(["db", "flush", "--config", config_path]) == 0
    out = capsys.readouterr().out
    assert "0 left in the journal" in out and "Traceback" not in out
    assert journal_backlog(pg_store_config.journal_dir).records == 0

    engine = create_store_engine(pg_store_config.url)
    try:  # the child acknowledges its roll, run and event records as well as its defects
        stored: dict = {}
        for table in ("defects", "rolls", "inspection_runs", "events"):
            stored.update(count_keys(engine, table, list(acked)))
        assert stored == dict.fromkeys(acked, 1)
    finally:
        engine.dispose()

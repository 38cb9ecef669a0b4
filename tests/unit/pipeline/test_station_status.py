"""Status reports: outage warnings and the alarm, one-line text, /metrics read back exactly."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from station.pipeline.events import Alarm, EventBus
from station.pipeline.figures import PipelineFigures, QueueFigures
from station.pipeline.metrics_endpoint import METRIC_HELP, status_samples
from station.pipeline.monitor import OutageWatch
from station.pipeline.station_status import StationStatus, StoreFigures
from station.pipeline.status_query import status_from_metrics
from station.pipeline.summary_text import format_status, format_status_block
from station.store.config import StoreConfig

URL = "postgresql+psycopg://root@127.0.0.1:1/test"


def _figures() -> PipelineFigures:
    return PipelineFigures(
        elapsed_s=61.5,
        lines=120_000,
        tiles=5_400,
        lines_per_s=1987.25,
        tiles_per_s=89.4,
        mean_lines_per_s=1950.0,
        mean_tiles_per_s=88.0,
        web_speed_m_per_min=11.92,
        metres_seen=12.0,
        metres_inspected=11.75,
        metres_uninspected=0.125,
        defects=7,
        queues=(
            QueueFigures("source", 3, 16, 9, 2),
            QueueFigures("inference", 1, 8, 8, 0),
            QueueFigures("extraction", 0, 8, 2, 0),
        ),
        source_dropped_blocks=2,
        dropped_rows=0,
        latency_s=0.4375,
        max_latency_s=1.25,
        rate_window_s=20.0,
    )


def _status(store: StoreFigures, *, offline_start: bool = False) -> StationStatus:
    return StationStatus(
        station="loom-3",
        state="running",
        figures=_figures(),
        store=store,
        offline_start=offline_start,
    )


OFFLINE = StoreFigures(
    url=URL,
    database_online=False,
    last_error="connection refused",
    queued=4,
    dropped=1,
    journal_records=120,
    journal_oldest_age_s=200.0,
    offline_for_s=210.0,
    image_disk_free_bytes=12_300_000_000,
)


def test_the_status_line_is_one_readable_line_with_the_database_and_journal() -> None:
    line = format_status(_status(OFFLINE, offline_start=True))
    assert "\n" not in line
    assert "1987 lines/s" in line and "89.4 tiles/s" in line and "over 20 s" in line
    assert "latency 0.44 s" in line and "source=3/16" in line
    assert "0.12 m not inspected" in line or "0.13 m not inspected" in line
    assert "DATABASE UNREACHABLE for 3.5 min" in line
    assert "journal 120 record(s), oldest 3.3 min" in line and "12.3 GB free" in line
    assert "STARTED WITHOUT ITS DATABASE" in line
    assert not re.search(r"[A-Z]\w+\(|<\w+ object", line)  # no raw Python objects


class _OneStatus:
    def __init__(self, status: StationStatus) -> None:
        self.status = status

    def collect(self):
        return status_samples(self.status)


def test_metrics_text_reads_back_to_the_same_status_line() -> None:
    for store in (OFFLINE, StoreFigures(url=URL, database_online=True, image_disk_free_bytes=5)):
        status = _status(store, offline_start=store is OFFLINE)
        registry = CollectorRegistry(auto_describe=False)

        registry.register(_OneStatus(status))
        text = generate_latest(registry).decode()
        names = {line.split(" ")[2] for line in text.splitlines() if line.startswith("# HELP")}
        assert names == {
            f"{name}_total" if kind == "counter" else name
            for name, (kind, _) in METRIC_HELP.items()
        }
        back = status_from_metrics(text, url=URL)
        assert back is not None and back.station == "loom-3" and back.state == "running"
        assert format_status(back) == format_status(status)
        block = format_status_block(back, source="http://127.0.0.1:9464/metrics")
        assert block.splitlines()[0].startswith("station loom-3: running")


def test_an_outage_warns_at_once_then_every_interval_and_alarms_once(
    caplog, tmp_path: Path
) -> None:
    bus = EventBus()
    alarms = bus.subscribe_queue(kinds=(Alarm,))
    now = [0.0]
    config = StoreConfig(
        journal_dir=tmp_path / "journal", offline_warn_every_s=60.0, offline_alarm_after_s=300.0
    )
    watch = OutageWatch(config, bus, clock=lambda: now[0])
    caplog.set_level(logging.WARNING, logger="station.pipeline.monitor")
    for second in range(0, 400, 10):
        now[0] = float(second)
        watch.check(
            StoreFigures(
                url=URL,
                database_online=False,
                last_error="connection refused",
                journal_records=second // 10,
                journal_oldest_age_s=float(second),
                offline_for_s=float(second),
            )
        )
    warnings = [r.getMessage() for r in caplog.records if "DATABASE UNREACHABLE" in r.message]
    assert len(warnings) == 7  # at 0, 60, ..., 360 s
    assert all("\n" not in w and "connection refused" in w for w in warnings)
    raised = alarms.drain()
    assert len(raised) == 1 and raised[0].kind == "database_offline"
    assert "5.0 min" in raised[0].message and URL in raised[0].message

    caplog.clear()
    now[0] = 500.0
    watch.check(StoreFigures(url=URL, database_online=True))
    assert any("answers again" in r.getMessage() for r in caplog.records)

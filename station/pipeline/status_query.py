"""``station status``: the figures of a running station, or the store's view when none runs.

A running station with ``metrics.port`` set is asked through its ``/metrics``
endpoint (on this machine: 127.0.0.1 when it listens on every address); the
text is read back into a :class:`~station.pipeline.station_status.StationStatus`
and printed as one block. When nothing answers, the store is read instead:
database reachability, the journal's backlog and this station's newest roll.

Exit statuses (docs/run.md): 0 running, database online; 3 running, database
unreachable (records are journaled); 4 not running; 5 not running and the
database unreachable.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from station.pipeline.config import StationConfig
from station.pipeline.figures import PipelineFigures, QueueFigures
from station.pipeline.station_status import StationStatus, StoreFigures, disk_free_bytes
from station.pipeline.summary_text import format_age, format_bytes, format_status_block
from station.store.backlog import database_status
from station.store.engine import safe_url
from station.store.store import DefectStore

STATUS_RUNNING = 0
STATUS_RUNNING_DATABASE_UNREACHABLE = 3
STATUS_NOT_RUNNING = 4
STATUS_NOT_RUNNING_DATABASE_UNREACHABLE = 5


@dataclass(frozen=True)
class StatusReport:
    """What ``station status`` prints and its exit status.

    Attributes:
        text: One readable block.
        exit_status: See the module docstring.
        status: The running station's report (None when none answered).
    """

    text: str
    exit_status: int
    status: StationStatus | None = None


def metrics_url(config: StationConfig) -> str | None:
    """Where this machine reaches the station's ``/metrics`` (None when it is off)."""
    metrics = config.metrics
    if metrics.port is None:
        return None
    host = "127.0.0.1" if metrics.host in ("0.0.0.0", "::", "") else metrics.host
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{metrics.port}/metrics"


def scrape(url: str, *, timeout_s: float = 2.0) -> str | None:
    """The endpoint's text, or None when nothing answers there."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.read().decode("utf-8")
    except (urllib.error.URLError, OSError):
        return None


def _values(text: str) -> tuple[dict[str, float], dict[str, dict[str, float]], dict[str, str]]:
    plain: dict[str, float] = {}
    by_queue: dict[str, dict[str, float]] = {}
    labels: dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if "queue" in sample.labels:
                by_queue.setdefault(sample.labels["queue"], {})[sample.name] = sample.value
                continue
            plain[sample.name] = sample.value
            if sample.name == "station_up":
                labels.update(sample.labels)
    return plain, by_queue, labels


def _number(values: dict[str, float], name: str) -> float | None:
    value = values.get(name)
    return None if value is None or value != value else value  # NaN: not known


def status_from_metrics(text: str, *, url: str) -> StationStatus | None:
    """A station's report read back from its ``/metrics`` text (None when it has none yet)."""
    values, queues, labels = _values(text)
    if "station_up" not in values:
        return None

    def get(name: str) -> float:
        return _number(values, name) or 0.0

    figures = PipelineFigures(
        elapsed_s=get("station_elapsed_seconds"),
        lines=int(get("station_lines_total")),
        tiles=int(get("station_tiles_total")),
        lines_per_s=get("station_lines_per_second"),
        tiles_per_s=get("station_tiles_per_second"),
        mean_lines_per_s=0.0,
        mean_tiles_per_s=0.0,
        web_speed_m_per_min=get("station_web_speed_metres_per_minute"),
        metres_seen=get("station_metres_seen_total"),
        metres_inspected=get("station_metres_inspected_total"),
        metres_uninspected=get("station_metres_uninspected_total"),
        defects=int(get("station_defects_total")),
        queues=tuple(
            QueueFigures(
                name,
                int(q.get("station_queue_depth", 0)),
                int(q.get("station_queue_capacity", 0)),
                0,
                0,
            )
            for name, q in queues.items()
        ),
        source_dropped_blocks=int(get("station_dropped_source_blocks_total")),
        dropped_rows=int(get("station_dropped_tile_rows_total")),
        latency_s=get("station_latency_seconds"),
        max_latency_s=get("station_latency_max_seconds"),
        rate_window_s=get("station_rate_window_seconds"),
    )
    online = _number(values, "station_database_online")
    offline_s = get("station_database_offline_seconds")
    journal = int(get("station_journal_records"))
    free = _number(values, "station_image_disk_free_bytes")
    store = StoreFigures(
        url=url,
        database_online=None if online is None else online > 0.5,
        queued=int(get("station_store_queued_records")),
        dropped=int(get("station_store_dropped_records_total")),
        journal_records=journal,
        journal_oldest_age_s=get("station_journal_oldest_age_seconds") if journal else None,
        offline_for_s=offline_s if online is not None and online < 0.5 else None,
        image_disk_free_bytes=None if free is None else int(free),
    )
    return StationStatus(
        station=labels.get("station", "?"),
        state=labels.get("state", "?"),
        figures=figures,
        store=store,
        offline_start=get("station_offline_start") > 0.5,
    )


def _store_view(config: StationConfig, reason: str) -> StatusReport:
    store_config = config.store
    database = database_status(store_config)
    lines = [f"station {config.station.name}: not running ({reason})"]
    if database.unreachable is not None:
        lines.append(f"  database       UNREACHABLE: {database.unreachable}")
    else:
        schema = database.schema
        state = (
            "schema current"
            if schema and schema.known and not schema.pending
            else ("schema NOT current (run `station db upgrade`)")
        )
        lines.append(f"  database       {database.url}, online, {state}")
    backlog = database.backlog
    lines.append(
        f"  journal        {backlog.records} record(s) waiting"
        + (f", oldest {format_age(backlog.age_s())}" if backlog.records else "")
    )
    if database.exit_status == 0:
        lines.append(f"  last roll      {_last_roll(config)}")
    lines.append(f"  image disk     {format_bytes(disk_free_bytes(store_config.image_root))} free")
    code = (
        STATUS_NOT_RUNNING
        if database.unreachable is None
        else (STATUS_NOT_RUNNING_DATABASE_UNREACHABLE)
    )
    return StatusReport(text="\n".join(lines), exit_status=code)


def _last_roll(config: StationConfig) -> str:
    with DefectStore.open(config.store, with_writer=False) as store:
        rolls = store.repository.list_rolls(station=config.station.name, limit=1)
    if not rolls:
        return f"none recorded for station {config.station.name}"
    roll: Any = rolls[0]
    inspected = (roll.length_inspected_mm or 0.0) / 1000.0
    ended = f"ended {roll.ended_at:%Y-%m-%d %H:%M:%S}" if roll.ended_at else "NOT ENDED"
    return f"{roll.lot_number}, started {roll.started_at:%Y-%m-%d %H:%M:%S}, {ended}, " + (
        f"{inspected:.2f} m inspected"
    )


def station_status(config: StationConfig, *, timeout_s: float = 2.0) -> StatusReport:
    """Ask the running station (its ``/metrics``), else read the store.

    Raises:
        StoreUrlError: ``store.url`` is invalid.
    """
    url = metrics_url(config)
    if url is None:
        return _store_view(config, "metrics.port is not set, so a running station cannot be asked")
    text = scrape(url, timeout_s=timeout_s)
    status = None if text is None else status_from_metrics(text, url=safe_url(config.store.url))
    if status is None:
        return _store_view(config, f"nothing answers at {url}")
    code = (
        STATUS_RUNNING
        if status.store.database_online is not False
        else (STATUS_RUNNING_DATABASE_UNREACHABLE)
    )
    return StatusReport(
        text=format_status_block(status, source=url), exit_status=code, status=status
    )

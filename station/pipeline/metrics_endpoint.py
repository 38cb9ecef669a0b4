"""The station's figures as a Prometheus text endpoint, ``http://HOST:PORT/metrics``.

Off unless ``metrics.port`` is set; it listens on ``metrics.host``
(127.0.0.1 by default: this machine only). Every scrape reads the newest
:class:`~station.pipeline.station_status.StationStatus`, the report the status
line and the ``FiguresUpdated`` events carry, so all three agree.

Metric names (all prefixed ``station_``) are listed in :data:`METRIC_HELP` and
in docs/run.md.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from station.pipeline.errors import PipelineConfigError
from station.pipeline.station_status import StationStatus

# name: (kind, help). Counters get the `_total` suffix on the wire.
METRIC_HELP: dict[str, tuple[str, str]] = {
    "station_up": ("gauge", "1 while the station's pipeline runs (label state: its state)"),
    "station_offline_start": ("gauge", "1 when the station started without its database"),
    "station_elapsed_seconds": ("gauge", "seconds since the pipeline started"),
    "station_rate_window_seconds": ("gauge", "window the rates and latency are averaged over"),
    "station_lines_per_second": ("gauge", "camera lines assembled per second (moving average)"),
    "station_tiles_per_second": ("gauge", "tiles scored per second (moving average)"),
    "station_web_speed_metres_per_minute": ("gauge", "web speed from the line rate"),
    "station_latency_seconds": ("gauge", "block arrival to extraction, mean over the window"),
    "station_latency_max_seconds": ("gauge", "block arrival to extraction, maximum"),
    "station_lines": ("counter", "camera lines assembled"),
    "station_tiles": ("counter", "tiles scored"),
    "station_metres_seen": ("counter", "metres of web that passed the camera"),
    "station_metres_inspected": ("counter", "metres of web inspected"),
    "station_metres_uninspected": ("counter", "metres of web recorded as not inspected"),
    "station_defects": ("counter", "defects found"),
    "station_dropped_source_blocks": ("counter", "line blocks the source dropped"),
    "station_dropped_tile_rows": ("counter", "tile rows dropped between stages"),
    "station_queue_depth": ("gauge", "items waiting in a queue (label queue)"),
    "station_queue_capacity": ("gauge", "capacity of a queue (label queue)"),
    "station_database_online": ("gauge", "1 while the database takes records, 0 while journaling"),
    "station_database_offline_seconds": ("gauge", "how long the database has been unreachable"),
    "station_store_queued_records": ("gauge", "records waiting in the store writer's queue"),
    "station_store_dropped_records": ("counter", "records the store writer dropped"),
    "station_journal_records": ("gauge", "records waiting in the local journal"),
    "station_journal_oldest_age_seconds": ("gauge", "age of the oldest journaled record"),
    "station_image_disk_free_bytes": ("gauge", "free space on the image store's disk"),
}


def _family(name: str, labels: tuple[str, ...] = ()) -> Any:
    kind, text = METRIC_HELP[name]
    family = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
    return family(name, text, labels=list(labels))


def status_samples(status: StationStatus) -> Iterator[Any]:
    """The metric families of one status report (NaN where a value is not known)."""
    figures, store = status.figures, status.store

    def one(name: str, value: float | None) -> Any:
        family = _family(name)
        family.add_metric([], math.nan if value is None else float(value))
        return family

    up = _family("station_up", ("station", "state"))
    up.add_metric([status.station, status.state], 1.0 if status.state == "running" else 0.0)
    yield up
    yield one("station_offline_start", float(status.offline_start))
    for name, value in (
        ("station_elapsed_seconds", figures.elapsed_s),
        ("station_rate_window_seconds", figures.rate_window_s),
        ("station_lines_per_second", figures.lines_per_s),
        ("station_tiles_per_second", figures.tiles_per_s),
        ("station_web_speed_metres_per_minute", figures.web_speed_m_per_min),
        ("station_latency_seconds", figures.latency_s),
        ("station_latency_max_seconds", figures.max_latency_s),
        ("station_lines", figures.lines),
        ("station_tiles", figures.tiles),
        ("station_metres_seen", figures.metres_seen),
        ("station_metres_inspected", figures.metres_inspected),
        ("station_metres_uninspected", figures.metres_uninspected),
        ("station_defects", figures.defects),
        ("station_dropped_source_blocks", figures.source_dropped_blocks),
        ("station_dropped_tile_rows", figures.dropped_rows),
    ):
        yield one(name, value)
    depth = _family("station_queue_depth", ("queue",))
    capacity = _family("station_queue_capacity", ("queue",))
    for queue in figures.queues:
        depth.add_metric([queue.name], float(queue.depth))
        capacity.add_metric([queue.name], float(queue.capacity))
    yield depth
    yield capacity
    online = None if store.database_online is None else float(store.database_online)
    for name, value in (
        ("station_database_online", online),
        ("station_database_offline_seconds", store.offline_for_s or 0.0),
        ("station_store_queued_records", store.queued),
        ("station_store_dropped_records", store.dropped),
        ("station_journal_records", store.journal_records),
        ("station_journal_oldest_age_seconds", store.journal_oldest_age_s or 0.0),
        ("station_image_disk_free_bytes", store.image_disk_free_bytes),
    ):
        yield one(name, value)


class _StatusCollector(Collector):
    def __init__(self, latest: Callable[[], StationStatus | None]) -> None:
        self._latest = latest

    def collect(self) -> Iterator[Any]:
        status = self._latest()
        if status is not None:
            yield from status_samples(status)


class MetricsEndpoint:
    """Serves ``/metrics`` from the newest status report, in its own thread.

    Args:
        host: Address to listen on.
        port: TCP port.
        latest: Returns the newest status report (None before the first).
    """

    def __init__(self, *, host: str, port: int, latest: Callable[[], StationStatus | None]) -> None:
        self.host = host
        self.port = port
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_StatusCollector(latest))
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start listening.

        Raises:
            PipelineConfigError: the address cannot be used (port taken, unknown host).
        """
        try:
            self._server, self._thread = start_http_server(
                self.port, addr=self.host, registry=self.registry
            )
        except OSError as error:
            raise PipelineConfigError(
                f"metrics.port: cannot serve /metrics on {self.host}:{self.port} "
                f"({error.strerror or error})",
                hint="set metrics.port to a free port (or leave it out to turn /metrics off); "
                "another station or program may use this one",
            ) from error

    @property
    def url(self) -> str:
        """Where the endpoint answers."""
        return f"http://{self.host}:{self.port}/metrics"

    def close(self) -> None:
        """Stop listening (waits for the server thread)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

"""The pipeline's monitor thread: status reports, database-outage warnings and alarms.

Every ``pipeline.status_interval_s`` it makes one
:class:`~station.pipeline.station_status.StationStatus`, publishes it
(``FiguresUpdated``), keeps it for ``/metrics`` and the status line, and
watches the store: while the database is unreachable it logs a warning at
once and then every ``store.offline_warn_every_s``; once the journal's oldest
waiting record is older than ``store.offline_alarm_after_s`` it raises one
``database_offline`` :class:`~station.pipeline.events.Alarm` per outage.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from station.pipeline.events import Alarm, EventBus, FiguresUpdated
from station.pipeline.station_status import StationStatus, StoreFigures
from station.store.config import StoreConfig

logger = logging.getLogger(__name__)


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


class OutageWatch:
    """Warnings and the alarm while the database is unreachable (called with each report).

    Args:
        config: ``offline_warn_every_s`` and ``offline_alarm_after_s``.
        bus: Where the alarm goes.
        clock: Monotonic seconds (replaced in tests).
    """

    def __init__(
        self, config: StoreConfig, bus: EventBus, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config
        self.bus = bus
        self._clock = clock
        self._next_warning_at: float | None = None
        self._alarmed = False
        self.warnings = 0

    def check(self, store: StoreFigures) -> None:
        """Warn or alarm as the store's state asks."""
        if store.database_online is not False:
            if self._next_warning_at is not None and store.database_online:
                logger.warning("the database %s answers again", store.url)
            self._next_warning_at = None
            if store.journal_records == 0:
                self._alarmed = False
            return
        now = self._clock()
        if self._next_warning_at is None or now >= self._next_warning_at:
            self.warnings += 1
            self._next_warning_at = now + self.config.offline_warn_every_s
            oldest = store.journal_oldest_age_s
            logger.warning(
                "DATABASE UNREACHABLE for %s: %s; %d record(s) wait in the journal %s%s; they "
                "are written when it answers",
                _minutes(store.offline_for_s),
                store.last_error or store.url,
                store.journal_records,
                self.config.journal_dir,
                f" (oldest {_minutes(oldest)})" if oldest is not None else "",
            )
        age = store.journal_oldest_age_s
        if not self._alarmed and age is not None and age >= self.config.offline_alarm_after_s:
            self._alarmed = True
            self.bus.publish(
                Alarm(
                    kind="database_offline",
                    message=f"the database {store.url} has been unreachable for "
                    f"{_minutes(store.offline_for_s)}: {store.journal_records} record(s) wait "
                    f"in the local journal, the oldest {_minutes(age)} old",
                )
            )


class StatusMonitor:
    """Makes a status report every ``interval_s`` in its own thread until stopped.

    Args:
        make_status: Makes one report.
        bus: Where ``FiguresUpdated`` events go.
        outages: Checks every report's store state.
        interval_s: Seconds between reports.
    """

    def __init__(
        self,
        *,
        make_status: Callable[[], StationStatus],
        bus: EventBus,
        outages: OutageWatch,
        interval_s: float,
    ) -> None:
        self._make_status = make_status
        self._bus = bus
        self._outages = outages
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pipeline-monitor", daemon=True)
        self.latest: StationStatus | None = None

    def start(self) -> None:
        """Make the first report now, then one every interval in the thread."""
        self.report()
        self._thread.start()

    def report(self) -> StationStatus:
        """Make, keep and publish one report now."""
        status = self._make_status()
        self.latest = status
        self._bus.publish(FiguresUpdated(status.figures, status=status))
        self._outages.check(status.store)
        return status

    def stop(self) -> None:
        """Stop the thread (one last report is made by the caller if wanted)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)

    def _run(self) -> None:
        while not self._stop.wait(timeout=self._interval_s):
            try:
                self.report()
            except Exception:  # a bug here must not stop the reports for good
                logger.exception("making the station's status report failed")

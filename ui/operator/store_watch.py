"""Reads what QA did with the roll's defects, off the GUI thread (no Qt here).

Every ``interval_s`` a thread asks the store for the roll's defects (to find a
clicked defect's images) and how many QA rejected as false alarms. A database
that does not answer costs the thread its connect timeout, never the window;
the window reads the newest :class:`StoreReading`.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field

from station.store.config import StoreConfig
from station.store.errors import StoreError
from station.store.records import ReviewStatus
from station.store.store import DefectStore
from station.store.views import DefectQuery, DefectView
from ui.operator.session import message_of

logger = logging.getLogger(__name__)

MAX_DEFECTS = 5000


@dataclass(frozen=True)
class StoreReading:
    """One look at the store.

    Attributes:
        reachable: The database answered.
        problem: Why not, for people.
        false_alarms: The roll's defects QA rejected.
        defects: The roll's defects in the database (up to 5000), along the roll.
        read_at: Wall-clock time of the reading.
    """

    reachable: bool
    problem: str = ""
    false_alarms: int = 0
    defects: tuple[DefectView, ...] = ()
    read_at: float = field(default_factory=time.time)


class StoreWatch:
    """A thread that reads the roll's review state every ``interval_s``.

    Args:
        config: The station's store section.
        interval_s: Pause between readings.
    """

    def __init__(self, config: StoreConfig, *, interval_s: float) -> None:
        self.config = config
        self.interval_s = interval_s
        self.roll_key: uuid.UUID | None = None
        self.latest: StoreReading | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="operator-store-watch", daemon=True)
        self._store: DefectStore | None = None

    def start(self) -> None:
        """Start reading."""
        self._thread.start()

    def read_now(self) -> None:
        """Read at once instead of waiting for the interval (e.g. a new roll)."""
        self._wake.set()

    def stop(self) -> None:
        """Stop the thread and close the database connections."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.config.connect_timeout_s + 10.0)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self.latest = self._read()
                self._wake.wait(timeout=self.interval_s)
                self._wake.clear()
        finally:
            if self._store is not None:
                self._store.close()

    def _read(self) -> StoreReading:
        try:
            if self._store is None:
                self._store = DefectStore.open(self.config, with_writer=False)
            roll_key = self.roll_key
            if roll_key is None:
                return StoreReading(reachable=True)
            repository = self._store.repository
            rejected = repository.count_defects(
                DefectQuery(roll_key=roll_key, review_status=(ReviewStatus.FALSE_ALARM,))
            )
            defects: list[DefectView] = []
            cursor = None
            while len(defects) < MAX_DEFECTS:
                page = repository.find_defects(
                    DefectQuery(roll_key=roll_key, limit=1000, cursor=cursor)
                )
                defects += page.items
                cursor = page.next_cursor
                if cursor is None:
                    break
            return StoreReading(reachable=True, false_alarms=rejected, defects=tuple(defects))
        except StoreError as error:
            if self._store is not None:
                self._store.close()
                self._store = None
            return StoreReading(reachable=False, problem=message_of(error))
        except Exception as error:
            logger.exception("reading the store failed")
            return StoreReading(reachable=False, problem=message_of(error))

"""The pipeline's plain-Python event bus: defects, alarms, status and figures.

Nothing here knows Qt; the UI subscribes and turns events into Qt signals.
Callbacks run in the publishing pipeline thread and must be quick (a slow
subscriber would slow the station): put the event on your own queue, or use
:meth:`EventBus.subscribe_queue`, a bounded queue that drops its oldest event
(counted) when its reader falls behind. A callback that raises is logged and
never stops the pipeline.
"""

from __future__ import annotations

import collections
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from station.acquisition.lines import SourceEvent
from station.pipeline.coverage import Stretch
from station.pipeline.extraction import FoundDefect
from station.pipeline.figures import PipelineFigures
from station.pipeline.station_status import StationStatus

logger = logging.getLogger(__name__)


class PipelineState(StrEnum):
    """Where the pipeline is in its life."""

    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


@dataclass(frozen=True)
class StatusChanged:
    """The pipeline changed state (``message`` says why, e.g. the error that stopped it)."""

    state: PipelineState
    message: str = ""
    timestamp_s: float = field(default_factory=time.time)


@dataclass(frozen=True)
class DefectFound:
    """A defect was found (already handed to the store)."""

    defect: FoundDefect
    roll_key: Any = None
    timestamp_s: float = field(default_factory=time.time)


@dataclass(frozen=True)
class UninspectedStretchFound:
    """A stretch of the roll was not inspected (and was recorded as such)."""

    stretch: Stretch
    timestamp_s: float = field(default_factory=time.time)


@dataclass(frozen=True)
class Alarm:
    """Something the operator must see now.

    Attributes:
        kind: ``defect``, ``uninspected``, ``source_fault`` or ``database_offline``.
        message: One line for people.
        along_mm: Where on the roll, when it applies.
    """

    kind: str
    message: str
    along_mm: float | None = None
    timestamp_s: float = field(default_factory=time.time)


@dataclass(frozen=True)
class SourceNotice:
    """An event of the line source (camera fault, stall, skipped image, ...)."""

    event: SourceEvent


@dataclass(frozen=True)
class FiguresUpdated:
    """Per-stage figures, published every ``pipeline.status_interval_s``.

    Attributes:
        figures: The pipeline's figures (rates are moving averages).
        status: The whole station's report they belong to: the same figures plus the
            store's state (database reachability, journal backlog, image disk space).
    """

    figures: PipelineFigures
    status: StationStatus | None = None


@dataclass(frozen=True, eq=False)
class WebPreview:
    """A display-sized view of the newest web rows and their stitched scores.

    Published at most ``preview.rate_hz`` times a second, and only while someone
    subscribed to it before the pipeline started. Each event carries the rows
    that became final since the previous one (newest last), so a viewer that
    keeps up sees every metre; one that falls behind loses the oldest events
    (its bounded queue counts them).

    Attributes:
        pixels: uint8 [h, w], grey, block means of the web's pixels.
        scores: uint8 [h, w], block maxima of the stitched anomaly scores on a fixed
            scale: 0 = score 0, ``threshold_level`` = the detection threshold, 255 = twice it.
        along_mm: float64 [h], position along the roll of each display row's first line.
        mm_per_px: Width of one display column across the web (mm).
        mm_per_row: Length of one display row along the roll (mm).
        threshold_level: Where the detection threshold lies on the scores' scale.
    """

    pixels: np.ndarray
    scores: np.ndarray
    along_mm: np.ndarray
    mm_per_px: float
    mm_per_row: float
    threshold_level: int = 128
    timestamp_s: float = field(default_factory=time.time)

    @property
    def num_rows(self) -> int:
        """h, the display rows it carries."""
        return int(self.pixels.shape[0])

    @property
    def width_mm(self) -> float:
        """What the ``w`` columns span across the web (mm)."""
        return float(self.pixels.shape[1]) * self.mm_per_px


PipelineEvent = (
    StatusChanged
    | DefectFound
    | UninspectedStretchFound
    | Alarm
    | SourceNotice
    | FiguresUpdated
    | WebPreview
)
Callback = Callable[[PipelineEvent], None]


class EventQueue:
    """A bounded queue of events for a reader in another thread; drops (and counts) the oldest."""

    def __init__(self, maxsize: int) -> None:
        self._events: collections.deque[PipelineEvent] = collections.deque()
        self._maxsize = maxsize
        self._condition = threading.Condition()
        self.dropped = 0

    def _push(self, event: PipelineEvent) -> None:
        with self._condition:
            if len(self._events) >= self._maxsize:
                self._events.popleft()
                self.dropped += 1
            self._events.append(event)
            self._condition.notify_all()

    def get(self, *, timeout_s: float) -> PipelineEvent | None:
        """The oldest event, or None after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        with self._condition:
            while not self._events:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._condition.wait(timeout=remaining)
            return self._events.popleft()

    def drain(self) -> list[PipelineEvent]:
        """Every event waiting now."""
        with self._condition:
            events = list(self._events)
            self._events.clear()
            return events


class EventBus:
    """Publish/subscribe of :data:`PipelineEvent` objects, thread-safe."""

    def __init__(self) -> None:
        self._subscribers: dict[int, tuple[Callback, tuple[type, ...] | None]] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()

    def subscribe(
        self, callback: Callback, *, kinds: tuple[type, ...] | None = None
    ) -> Callable[[], None]:
        """Call ``callback`` for every event (or only those of ``kinds``).

        Returns:
            A function that unsubscribes.
        """
        key = next(self._ids)
        with self._lock:
            self._subscribers[key] = (callback, kinds)

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers.pop(key, None)

        return unsubscribe

    def asked_for(self, kind: type) -> bool:
        """True when a subscriber named ``kind`` in its ``kinds``.

        Costly events (e.g. :class:`WebPreview`) are made only when someone asked
        for them by name; catch-all subscribers do not count.
        """
        with self._lock:
            subscribers = list(self._subscribers.values())
        return any(kinds is not None and issubclass(kind, kinds) for _, kinds in subscribers)

    def subscribe_queue(
        self, *, maxsize: int = 1000, kinds: tuple[type, ...] | None = None
    ) -> EventQueue:
        """A bounded queue that receives every event (or only those of ``kinds``)."""
        queue = EventQueue(maxsize)
        self.subscribe(queue._push, kinds=kinds)
        return queue

    def publish(self, event: PipelineEvent) -> None:
        """Hand ``event`` to every matching subscriber, in the caller's thread."""
        with self._lock:
            subscribers = list(self._subscribers.values())
        for callback, kinds in subscribers:
            if kinds is not None and not isinstance(event, kinds):
                continue
            try:
                callback(event)
            except Exception:
                logger.exception("event subscriber %r failed on %s", callback, type(event).__name__)

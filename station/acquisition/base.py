"""The one interface every line source implements, and the machinery they share.

A source runs a background thread that produces :class:`Lines` into a bounded
queue; the consumer calls :meth:`LineSource.read` (raises on timeout) or
:meth:`LineSource.try_read` (returns None on timeout). When the consumer falls
behind, the oldest block is dropped, counted and reported as an event, so a
stretch of fabric is never silently skipped.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, Self

from station.acquisition.errors import (
    SourceFinishedError,
    SourceNotRunningError,
    SourceTimeoutError,
)
from station.acquisition.lines import Lines, Severity, SourceEvent, SourceEventKind, SourceStats
from training.public import CrasStationError

logger = logging.getLogger(__name__)

EventCallback = Callable[[SourceEvent], None]


class LineSource(ABC):
    """Base for sources of line blocks; use as a context manager or call start/stop.

    Subclasses implement :meth:`_open` (runs in the caller's thread inside
    :meth:`start`, so configuration and connection errors raise there),
    :meth:`_produce` (the background thread's body; it calls :meth:`_publish`
    per block and returns when :attr:`_stop_requested` is set or the data ends)
    and :meth:`_close`.

    Args:
        name: Shown in events and logs.
        queue_blocks: Capacity of the output queue in blocks; when full the oldest is dropped.
        on_event: Called (from the source's thread) for every :class:`SourceEvent`; must be quick.
    """

    def __init__(
        self, *, name: str, queue_blocks: int, on_event: EventCallback | None = None
    ) -> None:
        self.name = name
        self._on_event = on_event
        self._queue: collections.deque[Lines] = collections.deque()
        self._queue_blocks = queue_blocks
        self._condition = threading.Condition()
        self._stats = SourceStats()
        self._stop_requested = threading.Event()
        self._thread: threading.Thread | None = None
        self._running = False
        self._finished = False
        self._fatal: BaseException | None = None

    # -- consumer side -------------------------------------------------------------------

    def start(self) -> None:
        """Open the source and start producing in the background.

        Raises:
            CrasStationError: configuration or connection problems (subclass-specific).
        """
        if self._running:
            return
        self._stop_requested.clear()
        with self._condition:  # a restart begins a new run: fresh queue and counters
            self._queue.clear()
            self._stats = SourceStats()
            self._finished = False
            self._fatal = None
        self._open()
        self._running = True
        self._thread = threading.Thread(target=self._run, name=f"source-{self.name}", daemon=True)
        self._thread.start()
        self._emit(SourceEventKind.STARTED, Severity.INFO, f"{self.name} started")

    def stop(self, *, timeout_s: float = 5.0) -> None:
        """Stop producing and release the device or files; returns within about ``timeout_s``.

        Blocks still queued stay readable with :meth:`try_read`.
        """
        if not self._running:
            return
        self._stop_requested.set()
        with self._condition:
            self._condition.notify_all()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=timeout_s)
            if thread.is_alive():
                # A driver call is stuck; the thread is a daemon, so it cannot keep the
                # process alive. Closing the device under it could crash, so leave it.
                logger.error("%s: producer thread did not stop within %.1f s", self.name, timeout_s)
        self._running = False
        if thread is None or not thread.is_alive():
            self._close()
        self._emit(SourceEventKind.STOPPED, Severity.INFO, f"{self.name} stopped")

    @property
    def is_running(self) -> bool:
        """True between a successful :meth:`start` and :meth:`stop`."""
        return self._running

    def read(self, *, timeout_s: float) -> Lines:
        """Return the next block, waiting up to ``timeout_s``.

        Raises:
            SourceTimeoutError: nothing arrived in time.
            SourceFinishedError: the source has delivered its last block.
            CameraGoneError: (cameras) the device is gone for good.
            SourceNotRunningError: the source was never started or was stopped and is empty.
        """
        block = self.try_read(timeout_s=timeout_s)
        if block is None:
            raise SourceTimeoutError(
                f"{self.name}: no line block within {timeout_s:.3g} s",
                hint="check that the camera is triggered (encoder running, fabric moving) "
                "or raise the timeout",
            )
        return block

    def try_read(self, *, timeout_s: float) -> Lines | None:
        """Like :meth:`read`, but returns None when nothing arrives within ``timeout_s``.

        Faults (source finished, camera gone, not running) still raise.
        """
        deadline = time.monotonic() + max(0.0, timeout_s)
        with self._condition:
            while True:
                if self._queue:
                    block = self._queue.popleft()
                    self._condition.notify_all()  # a producer may wait for space
                    return block
                self._raise_if_over()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._condition.wait(timeout=remaining)

    def __iter__(self) -> Iterator[Lines]:
        """Yield blocks until the source finishes; waits as long as it takes between blocks."""
        while True:
            try:
                block = self.try_read(timeout_s=0.5)
            except SourceFinishedError:
                return
            if block is not None:
                yield block

    @property
    def queued_blocks(self) -> int:
        """Blocks waiting in the output queue now (for status and soak figures)."""
        with self._condition:
            return len(self._queue)

    @property
    def stats(self) -> SourceStats:
        """A snapshot of the counters."""
        with self._condition:
            return dataclasses.replace(self._stats)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- producer side -------------------------------------------------------------------

    @abstractmethod
    def _open(self) -> None:
        """Validate, open files or the device; raise clear errors. Runs in the caller's thread."""

    @abstractmethod
    def _produce(self) -> None:
        """Produce blocks with :meth:`_publish` until stopped or out of data (background thread)."""

    @abstractmethod
    def _close(self) -> None:
        """Release whatever :meth:`_open` acquired; must not raise."""

    def _publish(self, block: Lines, *, wait_for_space: bool = False) -> None:
        """Queue a block; when the queue is full drop the oldest, count it and report it.

        A block produced once :meth:`stop` was requested is not queued: it lies past
        the end of the run, and dropping a queued block for it would report a stop as
        an overflow.

        Args:
            block: The block to queue.
            wait_for_space: Wait for the consumer instead of dropping (for sources that
                are not tied to real time, e.g. a replay played as fast as possible).
        """
        dropped: Lines | None = None
        with self._condition:
            while (
                wait_for_space
                and len(self._queue) >= self._queue_blocks
                and not self._stop_requested.is_set()
            ):
                self._condition.wait(timeout=0.1)
            if self._stop_requested.is_set():
                # Produced after the stop: past the end of this run, not an overflow.
                return
            if len(self._queue) >= self._queue_blocks:
                dropped = self._queue.popleft()
                self._stats.dropped += 1
                self._stats.dropped_lines += dropped.num_lines
            self._queue.append(block)
            self._stats.blocks += 1
            self._stats.lines += block.num_lines
            self._condition.notify_all()
        if dropped is not None:
            self._emit(
                SourceEventKind.BLOCKS_DROPPED,
                Severity.FAULT,
                f"{self.name}: consumer fell behind; lines {dropped.first_line}-"
                f"{dropped.end_line - 1} dropped uninspected",
                first_line=dropped.first_line,
                num_lines=dropped.num_lines,
            )

    def _count(self, **increments: int) -> None:
        """Add to named counters of :class:`SourceStats` under the lock."""
        with self._condition:
            for name, value in increments.items():
                setattr(self._stats, name, getattr(self._stats, name) + value)

    def _emit(
        self, kind: SourceEventKind, severity: Severity, message: str, **details: Any
    ) -> None:
        """Log an event and pass it to the callback; a failing callback never stops the source."""
        level = {Severity.INFO: logging.INFO, Severity.WARNING: logging.WARNING}.get(
            severity, logging.ERROR
        )
        logger.log(level, "%s", message)
        if self._on_event is None:
            return
        event = SourceEvent(kind=kind, severity=severity, message=message, source=self.name)
        event.details.update(details)
        try:
            self._on_event(event)
        except Exception:
            logger.exception("%s: on_event callback failed for %s", self.name, kind)

    def _fail(self, error: BaseException) -> None:
        """Make ``read`` raise ``error`` once the queued blocks are consumed."""
        with self._condition:
            self._fatal = error
            self._condition.notify_all()

    def _raise_if_over(self) -> None:
        """Raise the reason no more blocks will come (called with the lock held, queue empty)."""
        if self._fatal is not None:
            raise self._fatal
        if self._finished:
            raise SourceFinishedError(
                f"{self.name} has delivered its last block",
                hint="set loop: true to replay continuously, or start a new source",
            )
        if not self._running:
            raise SourceNotRunningError(
                f"{self.name} is not running", hint="call start() (or use it in a with block)"
            )

    def _run(self) -> None:
        try:
            self._produce()
        except BaseException as error:
            # A fault the producer could not handle (or a bug): hand it to the consumer.
            if not isinstance(error, CrasStationError):
                logger.exception("%s: producer thread failed", self.name)
            self._fail(error)
            return
        with self._condition:
            if not self._stop_requested.is_set():
                self._finished = True
            self._condition.notify_all()

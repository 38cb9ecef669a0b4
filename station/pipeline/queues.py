"""Bounded queues between pipeline stages that drop the oldest item and count it.

A live camera cannot wait, so a full queue makes room by dropping its oldest
*droppable* item, counts it and tells the ``on_drop`` callback (which records
the lost fabric). In ``wait`` mode (replays, benchmarks) ``put`` waits for
room instead, until :meth:`StageQueue.stop_waiting` (shutdown past its drain
deadline) turns it back to dropping. Control items (end of data) are never
dropped and never wait.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class StageQueue(Generic[T]):
    """A bounded FIFO between two threads.

    Args:
        capacity: Droppable items it holds at most.
        name: Shown in figures and logs.
        on_drop: Called with each dropped item, from the putting thread; must be quick.
        wait_when_full: Wait for room instead of dropping (see the module docstring).
    """

    def __init__(
        self,
        capacity: int,
        *,
        name: str,
        on_drop: Callable[[T], None] | None = None,
        wait_when_full: bool = False,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.name = name
        self._on_drop = on_drop
        self._wait_when_full = wait_when_full
        self._items: collections.deque[tuple[T, bool]] = collections.deque()
        self._droppable = 0
        self._condition = threading.Condition()
        self.dropped = 0
        self.max_depth = 0

    def __len__(self) -> int:
        with self._condition:
            return len(self._items)

    def stop_waiting(self) -> None:
        """From now on a full queue drops instead of waiting (shutdown past its deadline)."""
        with self._condition:
            self._wait_when_full = False
            self._condition.notify_all()

    def put(self, item: T) -> None:
        """Append an item; when full, drop the oldest droppable one (or wait for room)."""
        dropped: T | None = None
        with self._condition:
            while self._wait_when_full and self._droppable >= self.capacity:
                self._condition.wait(timeout=0.1)
            if self._droppable >= self.capacity:
                dropped = self._pop_oldest_droppable()
                self.dropped += 1
            self._items.append((item, True))
            self._droppable += 1
            self.max_depth = max(self.max_depth, len(self._items))
            self._condition.notify_all()
        if dropped is not None and self._on_drop is not None:
            self._on_drop(dropped)

    def put_control(self, item: T) -> None:
        """Append an item that is never dropped and never waits (e.g. end of data)."""
        with self._condition:
            self._items.append((item, False))
            self._condition.notify_all()

    def get(self, *, timeout_s: float) -> T | None:
        """The oldest item, or None after ``timeout_s`` without one."""
        items = self.get_many(max_items=1, timeout_s=timeout_s)
        return items[0] if items else None

    def get_many(
        self,
        *,
        max_items: int,
        timeout_s: float,
        accept: Callable[[list[T], T], bool] | None = None,
    ) -> list[T]:
        """Up to ``max_items`` of the oldest items, waiting up to ``timeout_s`` for the first.

        Args:
            max_items: Most items returned.
            timeout_s: Longest wait for the first item.
            accept: ``accept(taken, next)`` decides whether ``next`` joins the items taken
                so far (e.g. while a batch has room); the first item is always taken.
        """
        deadline = time.monotonic() + timeout_s
        with self._condition:
            while not self._items:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._condition.wait(timeout=remaining)
            taken: list[T] = []
            while self._items and len(taken) < max_items:
                item, droppable = self._items[0]
                if taken and accept is not None and not accept(taken, item):
                    break
                self._items.popleft()
                self._droppable -= int(droppable)
                taken.append(item)
                if not droppable:
                    break  # a control item ends a batch
            self._condition.notify_all()
            return taken

    def _pop_oldest_droppable(self) -> T:
        for index, (item, droppable) in enumerate(self._items):
            if droppable:
                del self._items[index]
                self._droppable -= 1
                return item
        raise AssertionError("no droppable item in a full queue")  # pragma: no cover

"""The writer's bounded queue: never blocks the producer, drops the oldest defect and counts it.

Roll and run starts/ends are never dropped (defects after them would have no
roll to belong to); they may push the queue past its size for a moment.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class QueueEntry:
    """One submitted record with what it needs to be stored.

    Attributes:
        seq: Submission order number (1, 2, ...).
        record: The record.
        droppable: True for defects and events.
        crop_png, heatmap_png: Encoded images of a defect.
    """

    seq: int
    record: Any
    droppable: bool
    crop_png: bytes | None = None
    heatmap_png: bytes | None = None


class RecordQueue:
    """A FIFO of :class:`QueueEntry` with a size limit for droppable entries."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: deque[QueueEntry] = deque()
        self._condition = threading.Condition()
        self._next_seq = 1
        self._closed = False
        self.dropped_total = 0
        self._unreported_drops = 0
        self._last_dropped: QueueEntry | None = None

    def put(
        self,
        record: Any,
        *,
        droppable: bool,
        crop_png: bytes | None = None,
        heatmap_png: bytes | None = None,
    ) -> int:
        """Append a record; return its sequence number. Drops the oldest droppable entry if full."""
        with self._condition:
            seq = self._next_seq
            self._next_seq += 1
            if len(self._entries) >= self.capacity:
                for index, entry in enumerate(self._entries):
                    if entry.droppable:
                        del self._entries[index]
                        self.dropped_total += 1
                        self._unreported_drops += 1
                        self._last_dropped = entry
                        break
            self._entries.append(QueueEntry(seq, record, droppable, crop_png, heatmap_png))
            self._condition.notify_all()
            return seq

    @property
    def last_seq(self) -> int:
        """Sequence number of the newest entry ever put (0 before the first)."""
        with self._condition:
            return self._next_seq - 1

    def __len__(self) -> int:
        with self._condition:
            return len(self._entries)

    def take(self, *, max_items: int, timeout_s: float) -> list[QueueEntry]:
        """Pop up to ``max_items`` oldest entries; wait up to ``timeout_s`` for the first."""
        with self._condition:
            if not self._entries and not self._closed:
                self._condition.wait(timeout=timeout_s)
            count = min(max_items, len(self._entries))
            return [self._entries.popleft() for _ in range(count)]

    def take_unreported_drops(self) -> tuple[int, QueueEntry | None]:
        """Drops since the last call and the last dropped entry (for an overflow event)."""
        with self._condition:
            dropped, last = self._unreported_drops, self._last_dropped
            self._unreported_drops, self._last_dropped = 0, None
            return dropped, last

    def close(self) -> None:
        """Wake a waiting :meth:`take` (the writer is shutting down)."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()

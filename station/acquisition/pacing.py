"""Pacing of played-back lines at a set line rate, without drift.

Each block is released when its last line would have been scanned,
``start + end_line / line_rate_hz``, measured from one fixed start time, so
rounding and slow reads never accumulate: a late block is followed by the
next ones back to back until the schedule is met again.
"""

from __future__ import annotations

import threading
import time


class LinePacer:
    """Releases lines at ``line_rate_hz``; ``None`` or 0 means as fast as possible.

    Args:
        line_rate_hz: Lines per second.
        stop_event: Waiting ends early when this is set.
    """

    def __init__(self, *, line_rate_hz: float | None, stop_event: threading.Event) -> None:
        self.line_rate_hz = line_rate_hz or 0.0
        self._stop_event = stop_event
        self._start_s = time.monotonic()

    @property
    def paced(self) -> bool:
        """True when a line rate is set."""
        return self.line_rate_hz > 0

    def wait_for_line(self, end_line: int) -> bool:
        """Wait until lines ``[0, end_line)`` are due; False if stopped while waiting."""
        if not self.paced:
            return not self._stop_event.is_set()
        due_s = self._start_s + end_line / self.line_rate_hz
        delay_s = due_s - time.monotonic()
        if delay_s > 0:
            return not self._stop_event.wait(delay_s)
        return not self._stop_event.is_set()

"""Rates over a moving time window, from cumulative counters sampled now and then.

The pipeline's figures (lines/s, tiles/s, mean latency) are taken over the
last ``pipeline.rate_window_s`` seconds rather than since the previous
snapshot: blocks and inference batches arrive in bursts, so a one-second
interval mostly reads 0 or a spike.

Example::

    rates = MovingRates(window_s=20.0)
    rates.sample(now, {"lines": 2048, "tiles": 96})
    rates.per_second(now, {"lines": 4096, "tiles": 192})   # {"lines": ..., "tiles": ...}
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Mapping


class MovingRates:
    """Per-second rates of cumulative counters over the last ``window_s`` seconds (thread-safe).

    Call :meth:`sample` with the counters' current totals from time to time (every
    snapshot does); :meth:`change` and :meth:`per_second` compare the totals now
    with the oldest sample still inside the window (or, before the window has
    filled, with the first sample).

    Args:
        window_s: Length of the window in seconds.
        max_samples: Samples kept at most (the oldest go first).
    """

    def __init__(self, *, window_s: float, max_samples: int = 4096) -> None:
        if not window_s > 0:
            raise ValueError(f"window_s must be > 0, got {window_s}")
        self.window_s = window_s
        self._samples: collections.deque[tuple[float, dict[str, float]]] = collections.deque(
            maxlen=max_samples
        )
        self._lock = threading.Lock()

    def sample(self, now: float, totals: Mapping[str, float]) -> None:
        """Remember the counters' totals at time ``now`` (seconds, monotonic)."""
        with self._lock:
            if self._samples and now <= self._samples[-1][0]:
                return
            self._samples.append((now, dict(totals)))
            # Keep one sample at or before the window's start as its baseline.
            while len(self._samples) > 1 and self._samples[1][0] <= now - self.window_s:
                self._samples.popleft()

    def change(self, now: float, totals: Mapping[str, float]) -> tuple[float, dict[str, float]]:
        """Seconds covered and how much each counter grew over them (0 s before any sample)."""
        start = now - self.window_s
        with self._lock:
            baseline = None
            for when, values in self._samples:
                if when <= start:
                    baseline = (when, values)  # the latest sample at or before the window
                    continue
                if baseline is None:
                    baseline = (when, values)  # the window has not filled yet
                break
        if baseline is None:
            return 0.0, dict.fromkeys(totals, 0.0)
        when, values = baseline
        return max(0.0, now - when), {
            name: total - values.get(name, 0.0) for name, total in totals.items()
        }

    def per_second(self, now: float, totals: Mapping[str, float]) -> dict[str, float]:
        """Each counter's growth per second over the window (0 while under a millisecond)."""
        seconds, grown = self.change(now, totals)
        if seconds < 1e-3:
            return dict.fromkeys(totals, 0.0)
        return {name: value / seconds for name, value in grown.items()}

"""Per-stage figures of the running pipeline: throughput, queues, latency, drops.

Each stage adds to its :class:`StageCounters` (busy time = time spent working,
not waiting for input); :class:`FiguresRecorder` turns them into
:class:`PipelineFigures` snapshots with rates and latency as moving averages
over the last ``pipeline.rate_window_s`` seconds, and means since the start.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from station.pipeline.moving_rates import MovingRates


@dataclass
class StageCounters:
    """What one stage did (updated by its own thread only)."""

    items: int = 0
    lines: int = 0
    tiles: int = 0
    busy_s: float = 0.0


@dataclass(frozen=True)
class QueueFigures:
    """State of one queue between stages."""

    name: str
    depth: int
    capacity: int
    max_depth: int
    dropped: int


@dataclass(frozen=True)
class PipelineFigures:
    """One snapshot of the pipeline's figures.

    Attributes:
        elapsed_s: Since the pipeline started.
        lines: Lines assembled so far.
        tiles: Tiles scored so far.
        lines_per_s, tiles_per_s: Moving averages over the last ``rate_window_s``.
        mean_lines_per_s, mean_tiles_per_s: Since the first block arrived.
        web_speed_m_per_min: ``lines_per_s`` as web speed.
        metres_seen: Length of roll that passed the camera (to the newest line).
        metres_inspected, metres_uninspected: Closed-out coverage so far.
        defects: Defects reported.
        queues: Every queue's depth, capacity, deepest point and drops.
        source_dropped_blocks: Blocks the source dropped (its consumer fell behind).
        dropped_rows: Tile rows dropped between stages (inference fell behind, shutdown).
        latency_s, max_latency_s: From a row's block arriving to its extraction
            (mean over the rows finished in the last ``rate_window_s``, or the last
            row's when none finished in it; maximum since the start).
        stage_busy_s: Working time per stage since the start.
        rate_window_s: The window the rates and the latency are averaged over.
    """

    elapsed_s: float
    lines: int
    tiles: int
    lines_per_s: float
    tiles_per_s: float
    mean_lines_per_s: float
    mean_tiles_per_s: float
    web_speed_m_per_min: float
    metres_seen: float
    metres_inspected: float
    metres_uninspected: float
    defects: int
    queues: tuple[QueueFigures, ...]
    source_dropped_blocks: int
    dropped_rows: int
    latency_s: float
    max_latency_s: float
    stage_busy_s: dict[str, float] = field(default_factory=dict)
    rate_window_s: float = 0.0


class FiguresRecorder:
    """Collects counters and latencies; makes snapshots (thread-safe).

    Args:
        mm_per_line: To turn lines into metres and web speed.
        rate_window_s: Rates and latency are averaged over this many seconds.
        clock: Monotonic seconds (replaced in tests).
    """

    def __init__(
        self,
        *,
        mm_per_line: float,
        rate_window_s: float = 20.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.mm_per_line = mm_per_line
        self.stages = {
            "assembly": StageCounters(),
            "inference": StageCounters(),
            "extraction": StageCounters(),
        }
        self._clock = clock
        self._lock = threading.Lock()
        self._started = clock()
        self._first_block_at: float | None = None
        self._rates = MovingRates(window_s=rate_window_s)
        self._latency_sum = 0.0
        self._latency_count = 0
        self._last_latency_s = 0.0
        self.max_latency_s = 0.0
        self.defects = 0

    def first_block(self) -> None:
        """Mark the arrival of the first block (rates since then)."""
        with self._lock:
            if self._first_block_at is None:
                self._first_block_at = self._clock()
                self._rates.sample(self._first_block_at, self._totals())

    def latency(self, seconds: float) -> None:
        """A row finished ``seconds`` after its first block arrived."""
        with self._lock:
            self._latency_sum += seconds
            self._latency_count += 1
            self._last_latency_s = seconds
            self.max_latency_s = max(self.max_latency_s, seconds)

    def _totals(self) -> dict[str, float]:
        return {
            "lines": self.stages["assembly"].lines,
            "tiles": self.stages["inference"].tiles,
            "latency_sum": self._latency_sum,
            "latency_count": self._latency_count,
        }

    def snapshot(
        self,
        *,
        queues: tuple[QueueFigures, ...],
        metres_seen: float,
        metres_inspected: float,
        metres_uninspected: float,
        source_dropped_blocks: int,
    ) -> PipelineFigures:
        """Current figures (each snapshot is also a sample of the moving window)."""
        with self._lock:
            now = self._clock()
            totals = self._totals()
            first_block_at = self._first_block_at
            if first_block_at is not None:
                self._rates.sample(now, totals)
            rates = self._rates.per_second(now, totals)
            _, grown = self._rates.change(now, totals)
            last_latency = self._last_latency_s
        lines, tiles = int(totals["lines"]), int(totals["tiles"])
        finished_rows = grown["latency_count"]
        latency = grown["latency_sum"] / finished_rows if finished_rows > 0 else last_latency
        since_first = now - first_block_at if first_block_at is not None else 0.0
        lines_per_s = rates["lines"]
        return PipelineFigures(
            elapsed_s=now - self._started,
            lines=lines,
            tiles=tiles,
            lines_per_s=lines_per_s,
            tiles_per_s=rates["tiles"],
            mean_lines_per_s=lines / since_first if since_first > 0 else 0.0,
            mean_tiles_per_s=tiles / since_first if since_first > 0 else 0.0,
            web_speed_m_per_min=lines_per_s * self.mm_per_line * 60.0 / 1000.0,
            metres_seen=metres_seen,
            metres_inspected=metres_inspected,
            metres_uninspected=metres_uninspected,
            defects=self.defects,
            queues=queues,
            source_dropped_blocks=source_dropped_blocks,
            dropped_rows=sum(q.dropped for q in queues if q.name != "source"),
            latency_s=latency,
            max_latency_s=self.max_latency_s,
            stage_busy_s={name: c.busy_s for name, c in self.stages.items()},
            rate_window_s=self._rates.window_s,
        )


class Stopwatch:
    """Adds the time spent inside a ``with`` block to a counter's busy time."""

    def __init__(self, counters: StageCounters, clock: Callable[[], float] = time.perf_counter):
        self._counters = counters
        self._clock = clock
        self._start = 0.0

    def __enter__(self) -> Stopwatch:
        self._start = self._clock()
        return self

    def __exit__(self, *_: object) -> None:
        self._counters.busy_s += self._clock() - self._start

"""Reads a running pipeline's parts into figures, status reports and the drain's backlog.

The stages only count (:mod:`station.pipeline.figures`); this turns their
counters, the queues, the source and the coverage tracker into the numbers the
station reports: :class:`~station.pipeline.figures.PipelineFigures`,
:class:`~station.pipeline.station_status.StationStatus` and, on stop, the
:class:`~station.pipeline.drain.Backlog`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from station.acquisition.base import LineSource
from station.pipeline.assembly import WebAssembler
from station.pipeline.config import StationConfig
from station.pipeline.coverage import CoverageTracker
from station.pipeline.drain import Backlog
from station.pipeline.figures import FiguresRecorder, PipelineFigures, QueueFigures
from station.pipeline.queues import StageQueue
from station.pipeline.station_status import StationStatus, store_figures
from station.store.engine import safe_url
from station.store.writer import WriterStats


class PipelineGauges:
    """The running pipeline's figures, read on demand (any thread).

    Args:
        config: The station configuration.
        source: The line source.
        assembler: The web assembler (lines seen, lines buffered, row stride).
        tracker: Coverage (lines inspected and not).
        figures: The stages' counters.
        stage_queues: The queues between the stages.
        store_stats: The store writer's counters (None once the store is closed).
        state: The pipeline's state now.
        offline_start: The station started without its database.
    """

    def __init__(
        self,
        *,
        config: StationConfig,
        source: LineSource,
        assembler: WebAssembler,
        tracker: CoverageTracker,
        figures: FiguresRecorder,
        stage_queues: tuple[StageQueue[Any], ...],
        store_stats: Callable[[], WriterStats | None],
        state: Callable[[], str],
        offline_start: bool,
    ) -> None:
        self.config = config
        self.source = source
        self.assembler = assembler
        self.tracker = tracker
        self.figures = figures
        self.stage_queues = stage_queues
        self.store_stats = store_stats
        self.state = state
        self.offline_start = offline_start
        section = getattr(config.source, config.source.kind)
        self._source_capacity = int(getattr(section, "queue_blocks", 0))
        self._source_max_depth = 0

    def source_queue(self) -> QueueFigures:
        """The source's queue: blocks waiting, its capacity, deepest point seen, drops."""
        depth = self.source.queued_blocks
        self._source_max_depth = max(self._source_max_depth, depth)
        dropped = self.source.stats.dropped
        return QueueFigures("source", depth, self._source_capacity, self._source_max_depth, dropped)

    def snapshot(self) -> PipelineFigures:
        """The pipeline's figures now (rates over ``pipeline.rate_window_s``)."""
        metres_per_line = self.config.mm_per_line / 1000.0
        source_queue = self.source_queue()
        return self.figures.snapshot(
            queues=(
                source_queue,
                *(
                    QueueFigures(q.name, len(q), q.capacity, q.max_depth, q.dropped)
                    for q in self.stage_queues
                ),
            ),
            metres_seen=self.assembler.lines_seen_until * metres_per_line,
            metres_inspected=self.tracker.inspected_lines * metres_per_line,
            metres_uninspected=self.tracker.uninspected_lines * metres_per_line,
            source_dropped_blocks=source_queue.dropped,
        )

    def status(self) -> StationStatus:
        """A whole status report now: the figures and the store's state."""
        store = self.config.store
        return StationStatus(
            station=self.config.station.name,
            state=self.state(),
            figures=self.snapshot(),
            store=store_figures(
                self.store_stats(), url=safe_url(store.url), image_root=store.image_root
            ),
            offline_start=self.offline_start,
        )

    def backlog(self) -> Backlog:
        """Tile rows acquired but not yet inspected (the drain at stop waits for them)."""
        stats = self.source.stats
        lines = float(self.assembler.buffered_lines)
        if stats.blocks:
            lines += self.source.queued_blocks * stats.lines / stats.blocks
        inference = self.figures.stages["inference"]
        queued_rows = sum(len(queue) for queue in self.stage_queues)
        return Backlog(
            rows=queued_rows + lines / max(1, self.assembler.stride),
            tiles_per_row=inference.tiles / inference.items if inference.items else 1.0,
            done_rows=self.figures.stages["extraction"].items,
        )

    def tiles_per_s(self) -> float:
        """The measured inference rate: over the window, else since the first block."""
        figures = self.snapshot()
        return figures.tiles_per_s or figures.mean_tiles_per_s

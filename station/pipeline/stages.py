"""The three pipeline threads: assembly + tiling, inference, extraction + recording.

They are joined by :class:`~station.pipeline.queues.StageQueue` objects and
end in order: the assembly stage puts :data:`END` after its last row when the
source ends (or is stopped); each stage passes it on after its own last item.
A stage that fails still passes :data:`END` on, so the roll is always closed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from engines.backends.base import InferenceBackend
from station.acquisition.base import LineSource
from station.acquisition.errors import SourceFinishedError, SourceNotRunningError
from station.acquisition.lines import Lines
from station.pipeline.assembly import WebAssembler
from station.pipeline.coverage import CoverageTracker, Stretch
from station.pipeline.events import (
    Alarm,
    DefectFound,
    EventBus,
    UninspectedStretchFound,
)
from station.pipeline.extraction import DefectExtractor, FoundDefect
from station.pipeline.figures import FiguresRecorder, Stopwatch
from station.pipeline.preview import PreviewMaker
from station.pipeline.queues import StageQueue
from station.pipeline.recorder import RollRecorder
from station.pipeline.stitching import ScoreBand, ScoredRow
from station.pipeline.tiler import TiledRow, tile_row
from station.pipeline.web_edges import find_web_span
from station.store.records import EventKind, Severity
from training.public import background_mask

logger = logging.getLogger(__name__)

END: Any = object()
"""Marker that follows the last item through every queue."""

NO_FABRIC = "no fabric found in the tile row (web edges not detected or web narrower than a tile)"
DISCARDED_AT_SHUTDOWN = "work discarded at shutdown (drain time exceeded)"


@dataclass(frozen=True)
class TilingParams:
    """How rows are cut into tiles."""

    tile_px: int
    overlap_px: int
    in_channels: int


class AssemblyStage:
    """Reads the source, assembles rows, tiles them, queues them for inference."""

    def __init__(
        self,
        *,
        source: LineSource,
        assembler: WebAssembler,
        tiling: TilingParams,
        out_queue: StageQueue[Any],
        recorder: RollRecorder,
        figures: FiguresRecorder,
        mm_per_px: float,
        abort: threading.Event,
    ) -> None:
        self.source = source
        self.assembler = assembler
        self.tiling = tiling
        self.out_queue = out_queue
        self.recorder = recorder
        self.figures = figures
        self.mm_per_px = mm_per_px
        self.abort = abort
        self.counters = figures.stages["assembly"]

    def run(self) -> None:
        """Until the source ends or is stopped (its queued blocks are still read)."""
        try:
            while not self.abort.is_set():
                try:
                    block = self.source.try_read(timeout_s=0.2)
                except (SourceFinishedError, SourceNotRunningError):
                    break
                if block is not None:
                    self._take(block)
        finally:
            try:
                if not self.abort.is_set():
                    with Stopwatch(self.counters):
                        rows = [self._tile(row) for row in self.assembler.finish()]
                    for tiled in rows:
                        self.out_queue.put(tiled)
            finally:
                self.out_queue.put_control(END)

    def _take(self, block: Lines) -> None:
        with Stopwatch(self.counters):
            if not self.recorder.started:
                self._begin_roll(block)
            rows = [self._tile(row) for row in self.assembler.add(block)]
            self.counters.items += 1
            self.counters.lines += block.num_lines
        for tiled in rows:
            self.out_queue.put(tiled)

    def _begin_roll(self, block: Lines) -> None:
        self.figures.first_block()
        span = find_web_span(background_mask(block.pixels))
        width_px = span.width_px if span is not None else block.width_px
        self.recorder.begin(measured_width_mm=width_px * self.mm_per_px)

    def _tile(self, row: Any) -> TiledRow:
        return tile_row(
            row,
            tile_px=self.tiling.tile_px,
            overlap_px=self.tiling.overlap_px,
            in_channels=self.tiling.in_channels,
        )


class InferenceStage:
    """Scores tile rows in batches of up to ``batch_size`` tiles."""

    def __init__(
        self,
        *,
        backend: InferenceBackend,
        in_queue: StageQueue[Any],
        out_queue: StageQueue[Any],
        batch_size: int,
        tracker: CoverageTracker,
        figures: FiguresRecorder,
        discard: threading.Event,
    ) -> None:
        self.backend = backend
        self.in_queue = in_queue
        self.out_queue = out_queue
        self.batch_size = batch_size
        self.tracker = tracker
        self.figures = figures
        self.discard = discard
        self.counters = figures.stages["inference"]
        self.discarded_rows = 0

    def _fits(self, taken: list[Any], candidate: Any) -> bool:
        if candidate is END:
            return True
        tiles = sum(item.num_tiles for item in taken if item is not END)
        return tiles + candidate.num_tiles <= self.batch_size

    def run(self) -> None:
        """Until :data:`END` arrives."""
        try:
            while True:
                items = self.in_queue.get_many(max_items=64, timeout_s=0.2, accept=self._fits)
                rows = [item for item in items if item is not END]
                if rows:
                    self._score(rows)
                if len(rows) < len(items):
                    return
        finally:
            self.out_queue.put_control(END)

    def _score(self, rows: list[TiledRow]) -> None:
        if self.discard.is_set():
            for tiled in rows:
                self.tracker.note_loss(
                    tiled.row.first_line, tiled.row.end_line, DISCARDED_AT_SHUTDOWN
                )
            self.discarded_rows += len(rows)
            return
        with Stopwatch(self.counters):
            scored = [row for row in rows if row.num_tiles]
            results = None
            if scored:
                results = self.backend.infer(np.concatenate([row.tiles for row in scored]))
            offset = 0
            outputs = []
            for tiled in rows:
                count = tiled.num_tiles
                part = slice(offset, offset + count)
                size = tiled.tiles.shape[1]
                outputs.append(
                    ScoredRow(
                        row=tiled.row,
                        xs=tiled.xs,
                        tile_px=size,
                        anomaly_maps=results.anomaly_map[part]
                        if count and results is not None
                        else np.zeros((0, size, size), np.float32),
                        tile_scores=results.tile_score[part]
                        if count and results is not None
                        else np.zeros(0, np.float32),
                        matched_class=results.matched_class[part]
                        if count and results is not None
                        else np.zeros(0, np.int64),
                    )
                )
                offset += count
            self.counters.items += len(rows)
            self.counters.tiles += offset
            self.counters.lines += sum(row.row.num_lines for row in rows)
        for output in outputs:
            self.out_queue.put(output)


class ExtractionStage:
    """Tracks coverage, stitches scores, extracts defects, records and publishes them."""

    def __init__(
        self,
        *,
        in_queue: StageQueue[Any],
        band: ScoreBand,
        extractor: DefectExtractor,
        tracker: CoverageTracker,
        recorder: RollRecorder,
        bus: EventBus,
        figures: FiguresRecorder,
        alarm_min_points: int,
        alarm_on_uninspected: bool,
        end_line: Callable[[], int],
        keep_defects: int = 10_000,
        preview: PreviewMaker | None = None,
    ) -> None:
        self.in_queue = in_queue
        self.band = band
        self.extractor = extractor
        self.tracker = tracker
        self.recorder = recorder
        self.bus = bus
        self.figures = figures
        self.alarm_min_points = alarm_min_points
        self.alarm_on_uninspected = alarm_on_uninspected
        self.end_line = end_line
        self.counters = figures.stages["extraction"]
        self.defects: list[FoundDefect] = []
        self.stretches: list[Stretch] = []
        self.keep_defects = keep_defects
        self.max_band_lines = 0
        self.preview = preview
        self._new_threshold: float | None = None

    def set_threshold(self, threshold: float) -> None:
        """Use ``threshold`` from the next row on (any thread; this stage's thread applies it)."""
        self._new_threshold = threshold

    def _apply_new_threshold(self) -> None:
        threshold, self._new_threshold = self._new_threshold, None
        if threshold is not None:
            self.extractor.settings = replace(self.extractor.settings, threshold=threshold)

    def run(self) -> None:
        """Until :data:`END` arrives; then everything held is finished."""
        while True:
            item = self.in_queue.get(timeout_s=0.2)
            if item is None:
                continue
            if item is END:
                with Stopwatch(self.counters):
                    self._finish()
                return
            with Stopwatch(self.counters):
                self._take(item)

    def _take(self, scored: ScoredRow) -> None:
        self._apply_new_threshold()
        row = scored.row
        inspected = scored.num_tiles > 0
        if not inspected:
            self.tracker.note_loss(row.first_line, row.end_line, NO_FABRIC, dropped=False)
        stretch = self.tracker.row_done(
            row.first_line, row.end_line, first_mm=float(row.along_mm[0]), inspected=inspected
        )
        if stretch is not None:
            self._report_stretch(stretch)
        if inspected:
            if self.band.num_lines and row.first_line > self.band.end_line:
                # Lost lines cut every component: finish what is held instead of
                # filling the gap with empty lines (a long gap would fill memory).
                self._preview_until(self.band.end_line)
                for defect in self.extractor.extract(self.band.end_line, end=True):
                    self._report_defect(defect)
            self.band.add(scored)
            self.max_band_lines = max(self.max_band_lines, self.band.num_lines)
            self._preview_until(row.first_line)
        for defect in self.extractor.extract(row.first_line):
            self._report_defect(defect)
        held_from = self.band.origin_line if self.band.num_lines else None
        self.recorder.checkpoint(self.tracker.snapshot(self.end_line(), held_from_line=held_from))
        self.counters.items += 1
        self.counters.lines += row.num_lines
        self.figures.latency(time.time() - row.received_s)

    def _finish(self) -> None:
        self._preview_until(self.band.end_line, force=True)
        for defect in self.extractor.extract(self.band.end_line, end=True):
            self._report_defect(defect)
        end_line = self.end_line()
        stretch = self.tracker.finish(end_line)
        if stretch is not None:
            self._report_stretch(stretch)
        self.recorder.checkpoint(self.tracker.snapshot(end_line), force=True)

    def _preview_until(self, end_line: int, *, force: bool = False) -> None:
        """Hand the preview the band's lines before ``end_line`` it has not seen; publish if due."""
        if self.preview is None:
            return
        band = self.band
        first = max(self.preview.shown_until, band.origin_line)
        end_line = min(end_line, band.end_line)
        if end_line > first:
            lo, hi = first - band.origin_line, end_line - band.origin_line
            self.preview.add(
                first_line=first,
                pixels=band.pixels[lo:hi],
                scores=band.blended(first, end_line),
                along_mm=band.along_mm[lo:hi],
                threshold=self.extractor.settings.threshold,
            )
        event = self.preview.take(force=force)
        if event is not None:
            self.bus.publish(event)

    def _report_defect(self, defect: FoundDefect) -> None:
        self.recorder.defect(defect)
        self.figures.defects += 1
        if len(self.defects) < self.keep_defects:
            # The images are in the store; holding them here would grow with the roll.
            self.defects.append(replace(defect, crop_png=None, heatmap_png=None))
        self.bus.publish(DefectFound(defect=defect, roll_key=self.recorder.roll_key))
        if defect.points >= self.alarm_min_points:
            message = (
                f"{defect.points}-point defect at {defect.along_mm / 1000:.3f} m, "
                f"{defect.across_mm:.0f} mm from the web's left edge "
                f"({defect.length_mm:.0f} x {defect.width_mm:.0f} mm)"
            )
            self.recorder.event(
                EventKind.ALARM,
                message,
                severity=Severity.WARNING,
                from_mm=defect.along_mm - defect.length_mm / 2,
                to_mm=defect.along_mm + defect.length_mm / 2,
            )
            self.bus.publish(Alarm(kind="defect", message=message, along_mm=defect.along_mm))

    def _report_stretch(self, stretch: Stretch) -> None:
        if len(self.stretches) < self.keep_defects:
            self.stretches.append(stretch)
        self.recorder.stretch(stretch)
        self.bus.publish(UninspectedStretchFound(stretch=stretch))
        if self.alarm_on_uninspected:
            self.bus.publish(
                Alarm(
                    kind="uninspected",
                    message=f"{stretch.length_mm / 1000:.3f} m not inspected at "
                    f"{stretch.from_mm / 1000:.3f} m: {'; '.join(stretch.reasons)}",
                    along_mm=stretch.from_mm,
                )
            )

"""What one pipeline run did: the summary ``Pipeline.stop`` returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from station.pipeline.coverage import Stretch
from station.pipeline.extraction import FoundDefect
from station.store.writer import WriterStats


@dataclass(frozen=True)
class RunSummary:
    """What one pipeline run did.

    Attributes:
        lot_number: The roll's lot number (None if no block ever arrived).
        roll_key: The roll's key in the store.
        metres_seen: Roll length that passed the camera.
        metres_inspected: Length covered by inspected tile rows.
        metres_uninspected: Length of the recorded uninspected stretches.
        stretches: The uninspected stretches (the first 10,000; all are in the store).
        defects: The defects found, up to 10,000 (geometry only: their images are in the
            store).
        defect_count: All defects found.
        points: Their 4-point-system points, summed.
        source_dropped_blocks: Blocks the source dropped.
        dropped_rows: Tile rows dropped between stages.
        lines, tiles: Lines assembled and tiles scored.
        mean_lines_per_s, mean_tiles_per_s: Since the first block.
        max_band_lines: Most lines the extraction band ever held.
        max_queue_depths: Deepest point of every stage queue.
        writer: The store writer's final counters (None when the store is not ours).
        error: The error that stopped the pipeline, if one did.
    """

    lot_number: str | None
    roll_key: Any
    metres_seen: float
    metres_inspected: float
    metres_uninspected: float
    stretches: tuple[Stretch, ...]
    defects: tuple[FoundDefect, ...]
    defect_count: int
    points: int
    source_dropped_blocks: int
    dropped_rows: int
    lines: int
    tiles: int
    mean_lines_per_s: float
    mean_tiles_per_s: float
    max_band_lines: int
    max_queue_depths: dict[str, int] = field(default_factory=dict)
    writer: WriterStats | None = None
    error: BaseException | None = None

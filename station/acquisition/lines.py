"""What every source hands out: blocks of lines, fault events and counters.

A line-scan camera sees one line of the web at a time; the fabric moving past
it turns consecutive lines into an image. Sources deliver those lines in
blocks (a camera "frame" of N lines, a replayed strip, a synthetic stretch).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class Lines:
    """A block of consecutive lines of the web.

    Attributes:
        pixels: uint8 [h, w] grey or [h, w, 3] RGB; h lines along the roll, w pixels across
            the web. Always owns its memory (never a view of a driver's buffer).
        first_line: Index of the block's first line since the source started (line 0 is the
            first line delivered); the next block starts at ``first_line + h`` unless lines
            were dropped in between.
        timestamp_s: Host wall-clock time (``time.time()``) at which the block was received
            (cameras) or scheduled (replay, synthetic).
        encoder_mm: Position along the roll reported by the camera's encoder for this block,
            or None where the source has no encoder.
        truth_mask: bool [h, w] ground truth (True = defective pixel) where the source knows
            it (synthetic fabric); None otherwise.
        segment_start: True when the block's first line does not continue the web of the
            previous block although the line numbers do (a replay starting its next image
            file: strips are played one after another but are not one piece of fabric).
            The pipeline then starts a new *segment*: no tile row, web edge or defect
            spans the two. Not a loss: no line is missing.
    """

    pixels: np.ndarray
    first_line: int
    timestamp_s: float
    encoder_mm: float | None = None
    truth_mask: np.ndarray | None = None
    segment_start: bool = False

    @property
    def num_lines(self) -> int:
        """Number of lines in the block (``pixels.shape[0]``)."""
        return int(self.pixels.shape[0])

    @property
    def width_px(self) -> int:
        """Pixels per line (``pixels.shape[1]``)."""
        return int(self.pixels.shape[1])

    @property
    def end_line(self) -> int:
        """One past the block's last line: ``first_line + num_lines``."""
        return self.first_line + self.num_lines


class SourceEventKind(StrEnum):
    """What happened; the station logs these and turns faults into alarms."""

    STARTED = "started"
    STOPPED = "stopped"
    SETTING_NOT_APPLIED = "setting_not_applied"
    FRAME_TIMEOUT = "frame_timeout"
    INCOMPLETE_FRAME = "incomplete_frame"
    CAMERA_LOST = "camera_lost"
    CAMERA_RECONNECTED = "camera_reconnected"
    CAMERA_GONE = "camera_gone"
    BLOCKS_DROPPED = "blocks_dropped"
    IMAGE_SKIPPED = "image_skipped"
    END_OF_ROLL = "end_of_roll"


class Severity(StrEnum):
    """How much an event matters: ``fault`` means lines were or will be lost."""

    INFO = "info"
    WARNING = "warning"
    FAULT = "fault"


@dataclass(frozen=True)
class SourceEvent:
    """One thing that happened in a source, passed to its ``on_event`` callback.

    Attributes:
        kind: What happened.
        severity: How much it matters.
        message: One human-readable sentence.
        source: Name of the source that emitted it.
        timestamp_s: Host wall-clock time of the event.
        details: Extra values (line ranges, node names, file paths), JSON-friendly.
    """

    kind: SourceEventKind
    severity: Severity
    message: str
    source: str
    timestamp_s: float = field(default_factory=time.time)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class SourceStats:
    """Counters of a source since it started; ``LineSource.stats`` returns a copy.

    Attributes:
        blocks: Line blocks delivered into the output queue.
        lines: Lines in those blocks.
        incomplete: Camera buffers the driver reported incomplete (discarded).
        timeouts: Stretches of ``frame_timeout_s`` without a camera frame.
        reconnects: Successful reconnections after the camera was lost.
        dropped: Blocks thrown away because the consumer fell behind (oldest first).
        dropped_lines: Lines in those blocks.
        skipped: Input images that could not be read and were skipped (replay).
    """

    blocks: int = 0
    lines: int = 0
    incomplete: int = 0
    timeouts: int = 0
    reconnects: int = 0
    dropped: int = 0
    dropped_lines: int = 0
    skipped: int = 0

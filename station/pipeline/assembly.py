"""Web assembly: line blocks in, rows of S lines (one tile high) out.

The assembler keeps a rolling buffer of the newest lines of the current
*segment* (a run of consecutive line numbers). Every line gets its position
along the roll in mm: line index x ``mm_per_line`` or, with an encoder, the
block's encoder position plus the line's offset in the block. A tile row
starts every ``S - overlap`` lines; the last row of a segment is placed flush
with its end so every line of it is covered (as ``window_starts`` does across
the web). A gap in the line numbers (blocks lost upstream) ends the segment;
the lines that no row covers are found downstream by the coverage tracker.
A block marked ``segment_start`` (a replay's next image file: the line numbers
run on, the fabric does not) ends it too, without being a gap: the previous
segment gets its flush row, so its lines stay covered, and no row, background
window or web edge reaches across the boundary. Rows carry the index of their
segment so that stitching and extraction keep segments apart as well.

Each row carries its lines' pixels, background mask, positions and the web
span found in it, as copies: the buffer's memory is reused.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from station.acquisition.lines import Lines
from station.pipeline.web_edges import WebSpan, find_web_span
from training.public import NEIGHBOURHOOD_PX, background_mask

logger = logging.getLogger(__name__)

# Lines of the previous block fed to the background rule, so its 9 x 9 window
# sees real neighbours across the block border instead of a reflection.
_CONTEXT_LINES = NEIGHBOURHOOD_PX // 2


@dataclass(frozen=True, eq=False)
class WebRow:
    """``tile_px`` consecutive lines of the web, ready to be tiled.

    Attributes:
        first_line: Index of the row's first line.
        pixels: uint8 [S, W] or [S, W, 3].
        background: bool [S, W], True on background pixels.
        along_mm: float64 [S], position of each line along the roll (mm from its start).
        span: Fabric columns in this row, or None when none were found.
        received_s: Wall-clock time the row's first block arrived (for latency).
        segment: Index of the segment the row lies in (0 for the first; a gap or a
            ``segment_start`` block starts the next). A row never spans two segments.
    """

    first_line: int
    pixels: np.ndarray
    background: np.ndarray
    along_mm: np.ndarray
    span: WebSpan | None
    received_s: float
    segment: int = 0

    @property
    def num_lines(self) -> int:
        """Lines in the row (the tile size S)."""
        return int(self.pixels.shape[0])

    @property
    def end_line(self) -> int:
        """One past the row's last line."""
        return self.first_line + self.num_lines

    @property
    def width_px(self) -> int:
        """Pixels across the camera line."""
        return int(self.pixels.shape[1])


class LinePositions:
    """Positions of lines along the roll (mm from the roll's start).

    Args:
        mm_per_line: Roll advance per line.
        use_encoder: Take a block's position from its ``encoder_mm`` where it has one;
            blocks without one continue from the previous block by line count.
    """

    def __init__(self, *, mm_per_line: float, use_encoder: bool = False) -> None:
        self.mm_per_line = mm_per_line
        self.use_encoder = use_encoder
        self._encoder_origin_mm: float | None = None
        self._last_line: int | None = None
        self._last_mm = 0.0

    def of_block(self, block: Lines) -> np.ndarray:
        """float64 [h]: the position of every line of ``block``."""
        offsets = np.arange(block.num_lines, dtype=np.float64) * self.mm_per_line
        if self.use_encoder and block.encoder_mm is not None:
            if self._encoder_origin_mm is None:
                self._encoder_origin_mm = block.encoder_mm - block.first_line * self.mm_per_line
            start = block.encoder_mm - self._encoder_origin_mm
        elif self.use_encoder and self._last_line is not None:
            start = self._last_mm + (block.first_line - self._last_line) * self.mm_per_line
        else:
            start = block.first_line * self.mm_per_line
        positions = start + offsets
        self._last_line = block.end_line - 1
        self._last_mm = float(positions[-1])
        return positions


class WebAssembler:
    """Turns line blocks into tile rows.

    Args:
        tile_px: S, the model's tile side (lines per row).
        overlap_px: Lines shared by consecutive rows (< S).
        positions: Line positions along the roll.
        max_background_fraction: Web-edge rule, see :func:`find_web_span`.
        edge_gap_px: Background gaps inside the web up to this wide are bridged.
    """

    def __init__(
        self,
        *,
        tile_px: int,
        overlap_px: int,
        positions: LinePositions,
        max_background_fraction: float = 0.5,
        edge_gap_px: int = 64,
    ) -> None:
        if not 0 <= overlap_px < tile_px:
            raise ValueError(f"overlap {overlap_px} px must be in [0, tile size {tile_px})")
        self.tile_px = tile_px
        self.stride = tile_px - overlap_px
        self.positions = positions
        self.max_background_fraction = max_background_fraction
        self.edge_gap_px = edge_gap_px
        self._expected_line: int | None = None
        self.segment = 0
        self._reset_segment(0)
        self.lines_seen_until = 0
        self.blocks_seen = 0
        self.gaps_seen = 0
        self.segments_started = 0

    def _reset_segment(self, first_line: int) -> None:
        self._segment_start = first_line
        self._next_row_start = first_line
        self._last_row_start: int | None = None
        self._buffer_first = first_line
        self._pixels: np.ndarray | None = None
        self._background: np.ndarray | None = None
        self._along = np.zeros(0, dtype=np.float64)
        self._received = np.zeros(0, dtype=np.float64)

    @property
    def buffered_lines(self) -> int:
        """Lines held in the rolling buffer now (bounded by S + one block)."""
        return 0 if self._pixels is None else int(self._pixels.shape[0])

    def add(self, block: Lines) -> list[WebRow]:
        """Append a block; returns the rows it completed (oldest first)."""
        rows: list[WebRow] = []
        if self._expected_line is not None and block.first_line != self._expected_line:
            if block.first_line < self._expected_line:
                logger.warning(
                    "line numbers went back from %d to %d; starting a new segment",
                    self._expected_line,
                    block.first_line,
                )
            self.gaps_seen += 1
            rows += self._next_segment(block.first_line)
        elif self._expected_line is None:
            self._reset_segment(block.first_line)
        elif block.segment_start:
            # The web does not continue (a new file): not a loss, so not a gap.
            rows += self._next_segment(block.first_line)
        self._expected_line = block.end_line
        self.lines_seen_until = max(self.lines_seen_until, block.end_line)
        self.blocks_seen += 1
        self._append(block)
        while self._next_row_start + self.tile_px <= self._buffer_end:
            rows.append(self._row_at(self._next_row_start))
            self._next_row_start += self.stride
        self._trim()
        return rows

    def finish(self) -> list[WebRow]:
        """The source ended: the last row, flush with the end of the data, if one is due."""
        rows = self._finish_segment()
        self._reset_segment(self._expected_line or 0)
        return rows

    @property
    def _buffer_end(self) -> int:
        return self._buffer_first + self.buffered_lines

    def _next_segment(self, first_line: int) -> list[WebRow]:
        """End the current segment (its flush row, if due) and start one at ``first_line``."""
        rows = self._finish_segment()
        self.segment += 1
        self.segments_started += 1
        self._reset_segment(first_line)
        return rows

    def _finish_segment(self) -> list[WebRow]:
        end = self._buffer_end
        start = end - self.tile_px
        covered_until = (
            self._segment_start
            if self._last_row_start is None
            else self._last_row_start + self.tile_px
        )
        if end > covered_until and start >= self._segment_start:
            return [self._row_at(start)]
        return []

    def _append(self, block: Lines) -> None:
        along = self.positions.of_block(block)
        received = np.full(block.num_lines, block.timestamp_s, dtype=np.float64)
        if self._pixels is None:
            self._pixels = block.pixels
            self._background = background_mask(block.pixels)
        else:
            assert self._background is not None
            context = self._pixels[-_CONTEXT_LINES:]
            with_context = np.concatenate([context, block.pixels])
            background = background_mask(with_context)[len(context) :]
            self._pixels = np.concatenate([self._pixels, block.pixels])
            self._background = np.concatenate([self._background, background])
        self._along = np.concatenate([self._along, along])
        self._received = np.concatenate([self._received, received])

    def _trim(self) -> None:
        """Forget lines no future row needs.

        Kept: everything from the next row's start, and the last S lines (the flush
        row at the segment's end reaches back that far); the buffer stays within
        S + one block.
        """
        if self._pixels is None:
            return
        keep_from = min(self._next_row_start, self._buffer_end - self.tile_px)
        keep_from = max(keep_from, self._segment_start, self._buffer_first)
        drop = keep_from - self._buffer_first
        if drop <= 0:
            return
        assert self._background is not None
        self._pixels = self._pixels[drop:].copy()
        self._background = self._background[drop:].copy()
        self._along = self._along[drop:].copy()
        self._received = self._received[drop:].copy()
        self._buffer_first += drop

    def _row_at(self, first_line: int) -> WebRow:
        assert self._pixels is not None and self._background is not None
        lo = first_line - self._buffer_first
        hi = lo + self.tile_px
        background = self._background[lo:hi].copy()
        self._last_row_start = first_line
        return WebRow(
            first_line=first_line,
            pixels=self._pixels[lo:hi].copy(),
            background=background,
            along_mm=self._along[lo:hi].copy(),
            span=find_web_span(
                background,
                max_background_fraction=self.max_background_fraction,
                bridge_gap_px=self.edge_gap_px,
            ),
            received_s=float(self._received[lo]),
            segment=self.segment,
        )

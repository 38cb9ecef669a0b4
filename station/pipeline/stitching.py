"""Score stitching: tile anomaly maps blended back into web coordinates.

The band holds the newest stretch of the web that extraction still needs:
per pixel the sum and count of the tile maps that cover it (blended as their
**mean**), plus the pixels, background mask, line positions, the web's span
per line (the union of the spans of the rows that cover it: every scored
column lies inside it) and the segment each line belongs to, and the tiles
themselves (for a defect's matched class). A row never spans two segments
(see :mod:`station.pipeline.assembly`); extraction labels each segment apart.

Why the mean and not the maximum: the model's pixel threshold is calibrated
on single-tile maps. The mean of overlapping maps is never noisier than one
map, so the calibrated false-alarm budget still holds; the maximum would take
the worst of up to four noisy maps and raise false alarms above it. The mean
also softens the tile-border artefacts of the map's blur. Background pixels
and pixels no tile covers (off the web, lost lines) score 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from station.pipeline.assembly import WebRow


@dataclass(frozen=True, eq=False)
class ScoredRow:
    """A tile row after inference.

    Attributes:
        row: The lines the tiles were cut from.
        xs: Left column of each tile.
        tile_px: S.
        anomaly_maps: float32 [N, S, S].
        tile_scores: float32 [N].
        matched_class: int64 [N], index into the model's classes.
    """

    row: WebRow
    xs: tuple[int, ...]
    tile_px: int
    anomaly_maps: np.ndarray
    tile_scores: np.ndarray
    matched_class: np.ndarray

    @property
    def num_tiles(self) -> int:
        """N."""
        return len(self.xs)


@dataclass(frozen=True)
class PlacedTile:
    """Where one scored tile lies on the web, and what the model matched it to."""

    first_line: int
    end_line: int
    x0: int
    x1: int
    class_index: int
    tile_score: float


class ScoreBand:
    """The rolling stretch of stitched scores that defect extraction works on.

    Lines are absolute line numbers; the band holds ``[origin_line, end_line)``.

    The line width and pixel layout (grey or RGB) are taken from the first row.
    """

    def __init__(self) -> None:
        self.origin_line = 0
        self._empty = True
        self._allocate(width_px=0, pixel_shape=())

    def _allocate(self, *, width_px: int, pixel_shape: tuple[int, ...]) -> None:
        self.width_px = width_px
        self.pixel_shape = pixel_shape
        self._sum = np.zeros((0, width_px), np.float32)
        self._count = np.zeros((0, width_px), np.uint16)
        self.pixels = np.zeros((0, width_px, *pixel_shape), np.uint8)
        self.background = np.zeros((0, width_px), bool)
        self.claimed = np.zeros((0, width_px), bool)
        self.along_mm = np.zeros(0, np.float64)
        self.web_left = np.zeros(0, np.int32)
        self.web_right = np.zeros(0, np.int32)
        self.segment = np.zeros(0, np.int64)
        self.tiles: list[PlacedTile] = []

    @property
    def end_line(self) -> int:
        """One past the newest line held."""
        return self.origin_line + int(self._sum.shape[0])

    @property
    def num_lines(self) -> int:
        """Lines held (memory is bounded by the extraction's trimming)."""
        return int(self._sum.shape[0])

    def add(self, scored: ScoredRow) -> None:
        """Blend a scored row's tile maps in and keep its pixels and positions."""
        row = scored.row
        if self._empty:
            self._allocate(width_px=row.width_px, pixel_shape=tuple(row.pixels.shape[2:]))
            self._empty = False
        if self.num_lines == 0:
            self.origin_line = row.first_line  # nothing held: no need to fill a gap before it
        if row.width_px != self.width_px:
            raise ValueError(f"row is {row.width_px} px wide, the band {self.width_px} px")
        if row.first_line < self.origin_line:
            raise ValueError(
                f"row at line {row.first_line} is older than the band's start {self.origin_line}"
            )
        self._extend_to(row.end_line)
        lo = row.first_line - self.origin_line
        hi = lo + row.num_lines
        self.pixels[lo:hi] = row.pixels
        self.background[lo:hi] = row.background
        self.along_mm[lo:hi] = row.along_mm
        self.segment[lo:hi] = row.segment
        if row.span is not None:
            left, right = self.web_left[lo:hi], self.web_right[lo:hi]
            known = left >= 0
            left[:] = np.where(known, np.minimum(left, row.span.left), row.span.left)
            right[:] = np.where(known, np.maximum(right, row.span.right), row.span.right)
        size = scored.tile_px
        for index, x in enumerate(scored.xs):
            self._sum[lo:hi, x : x + size] += scored.anomaly_maps[index]
            self._count[lo:hi, x : x + size] += 1
            self.tiles.append(
                PlacedTile(
                    first_line=row.first_line,
                    end_line=row.end_line,
                    x0=x,
                    x1=x + size,
                    class_index=int(scored.matched_class[index]),
                    tile_score=float(scored.tile_scores[index]),
                )
            )

    def blended(self, first_line: int, end_line: int) -> np.ndarray:
        """float32 [end - first, W]: mean of the covering tile maps; 0 off-web and on background."""
        lo, hi = first_line - self.origin_line, end_line - self.origin_line
        if lo < 0 or hi > self.num_lines or lo > hi:
            raise ValueError(
                f"lines {first_line}-{end_line} are outside the band "
                f"{self.origin_line}-{self.end_line}"
            )
        count = self._count[lo:hi]
        scores = np.divide(
            self._sum[lo:hi], count, out=np.zeros_like(self._sum[lo:hi]), where=count > 0
        )
        scores[self.background[lo:hi]] = 0.0
        return scores

    def tiles_overlapping(
        self, first_line: int, end_line: int, x0: int, x1: int
    ) -> list[PlacedTile]:
        """Tiles whose box intersects lines [first, end) x columns [x0, x1)."""
        return [
            tile
            for tile in self.tiles
            if tile.first_line < end_line
            and first_line < tile.end_line
            and tile.x0 < x1
            and x0 < tile.x1
        ]

    def trim(self, before_line: int) -> None:
        """Forget lines before ``before_line`` and the tiles that lie wholly before it."""
        drop = min(max(0, before_line - self.origin_line), self.num_lines)
        if drop == 0:
            return
        self._sum = self._sum[drop:].copy()
        self._count = self._count[drop:].copy()
        self.pixels = self.pixels[drop:].copy()
        self.background = self.background[drop:].copy()
        self.claimed = self.claimed[drop:].copy()
        self.along_mm = self.along_mm[drop:].copy()
        self.web_left = self.web_left[drop:].copy()
        self.web_right = self.web_right[drop:].copy()
        self.segment = self.segment[drop:].copy()
        self.origin_line += drop
        self.tiles = [tile for tile in self.tiles if tile.end_line > self.origin_line]

    def _extend_to(self, end_line: int) -> None:
        extra = end_line - self.end_line
        if extra <= 0:
            return
        width = self.width_px
        self._sum = np.concatenate([self._sum, np.zeros((extra, width), np.float32)])
        self._count = np.concatenate([self._count, np.zeros((extra, width), np.uint16)])
        self.pixels = np.concatenate(
            [self.pixels, np.zeros((extra, width, *self.pixel_shape), np.uint8)]
        )
        # Lines no row delivers (lost upstream) stay background: they score 0.
        self.background = np.concatenate([self.background, np.ones((extra, width), bool)])
        self.claimed = np.concatenate([self.claimed, np.zeros((extra, width), bool)])
        self.along_mm = np.concatenate([self.along_mm, np.full(extra, np.nan)])
        self.web_left = np.concatenate([self.web_left, np.full(extra, -1, np.int32)])
        self.web_right = np.concatenate([self.web_right, np.full(extra, -1, np.int32)])
        self.segment = np.concatenate([self.segment, np.full(extra, -1, np.int64)])

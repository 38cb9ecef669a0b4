"""Tiling a web row: S x S windows across the fabric, as in the ITDD setup.

Windows start every ``S - overlap`` pixels from the web's left edge; the last
one is placed flush with the right edge, so every fabric column is covered and
no tile reaches past the web into the background (unless the web is narrower
than one tile, in which case the row is not tiled and is recorded as
uninspected). Each tile keeps its web coordinates: the row's first line and
its left column.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from station.pipeline.assembly import WebRow
from station.pipeline.web_edges import WebSpan
from training.public import window_starts


@dataclass(frozen=True, eq=False)
class TiledRow:
    """A web row and its tiles.

    Attributes:
        row: The lines the tiles were cut from.
        xs: Left column of each tile (camera pixels); the top is ``row.first_line``.
        tiles: uint8 [N, S, S, C] in the model's channel count (N may be 0).
    """

    row: WebRow
    xs: tuple[int, ...]
    tiles: np.ndarray

    @property
    def num_tiles(self) -> int:
        """N, the tiles in this row."""
        return len(self.xs)


def tile_columns(span: WebSpan | None, *, tile_px: int, overlap_px: int) -> tuple[int, ...]:
    """Left columns of the tiles across a web span (empty if it is narrower than a tile)."""
    if span is None or span.width_px < tile_px:
        return ()
    starts = window_starts(span.width_px, tile_px, tile_px - overlap_px)
    return tuple(span.left + start for start in starts)


def to_model_channels(pixels: np.ndarray, in_channels: int) -> np.ndarray:
    """uint8 [H, W] or [H, W, 3] -> uint8 [H, W, in_channels].

    Colour becomes grey with OpenCV's weights (the same the sources use); grey is
    replicated for a colour model.
    """
    if pixels.ndim == 2:
        grey = pixels[..., None]
        return grey if in_channels == 1 else np.repeat(grey, in_channels, axis=2)
    if in_channels == 3:
        return pixels
    return cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)[..., None]


def tile_row(row: WebRow, *, tile_px: int, overlap_px: int, in_channels: int) -> TiledRow:
    """Cut a row into the model's tiles.

    Args:
        row: S lines of the web (S = ``tile_px``).
        tile_px: S.
        overlap_px: Columns shared by neighbouring tiles.
        in_channels: Channels the model takes (1 or 3).

    Returns:
        The row with tiles uint8 [N, S, S, in_channels].
    """
    if row.num_lines != tile_px:
        raise ValueError(f"row has {row.num_lines} lines, the tiles need {tile_px}")
    xs = tile_columns(row.span, tile_px=tile_px, overlap_px=overlap_px)
    if not xs:
        return TiledRow(
            row=row, xs=(), tiles=np.zeros((0, tile_px, tile_px, in_channels), np.uint8)
        )
    pixels = to_model_channels(row.pixels, in_channels)
    tiles = np.stack([pixels[:, x : x + tile_px] for x in xs])
    return TiledRow(row=row, xs=xs, tiles=tiles)

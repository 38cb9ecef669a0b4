"""Cutting large images into S x S tiles, and the rule that rejects background tiles.

Tiles follow the ITDD setup: sliding windows with a configurable overlap
across and along the image; the last window in each direction is placed
flush with the edge, so every pixel is covered and no padding is invented.
Across the web, windows start at the detected web edge
(:mod:`training.data.web_span`), as the station places them on the moving
web: the model is trained on the selvedge where the station will look at it.

Background rule (explicit, tested): a pixel is *background* when it is flat
(standard deviation of its 9 x 9 neighbourhood below ``FLAT_STD``) and either
near-white (>= ``BRIGHT_LEVEL``: the lit machine background beyond the web
edge) or near-black (<= ``DARK_LEVEL``: no web, padding, lens cap). A tile
is *fabric* when at most ``max_background`` (default 50 %) of its pixels are
background. Textured bright fabric is not background because it is not flat.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from training.data.web_span import find_web_span

BRIGHT_LEVEL = 230
DARK_LEVEL = 25
FLAT_STD = 3.0
NEIGHBOURHOOD_PX = 9
DEFAULT_MAX_BACKGROUND = 0.5


@dataclass(frozen=True)
class TileBox:
    """Where a tile lies in its source image (pixels)."""

    x: int
    y: int
    size: int


def window_starts(length: int, tile: int, stride: int) -> list[int]:
    """Start offsets of windows of ``tile`` px every ``stride`` px, the last flush with the end.

    Raises:
        ValueError: the image is shorter than one tile.
    """
    if length < tile:
        raise ValueError(f"image side {length} px is smaller than the tile size {tile} px")
    starts = list(range(0, length - tile + 1, stride))
    if starts[-1] != length - tile:
        starts.append(length - tile)
    return starts


def tile_boxes(height: int, width: int, *, tile_px: int, overlap_px: int = 0) -> list[TileBox]:
    """All tile windows of an image, row by row."""
    if not 0 <= overlap_px < tile_px:
        raise ValueError(f"overlap {overlap_px} px must be in [0, tile size {tile_px})")
    stride = tile_px - overlap_px
    return [
        TileBox(x=x, y=y, size=tile_px)
        for y in window_starts(height, tile_px, stride)
        for x in window_starts(width, tile_px, stride)
    ]


def grey_view(image: np.ndarray) -> np.ndarray:
    """A single-channel uint8 view for the background rule ([H, W] or [H, W, 3] in)."""
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def background_mask(image: np.ndarray) -> np.ndarray:
    """Boolean [H, W]: True where a pixel is flat near-white or flat near-black."""
    grey = grey_view(image).astype(np.float32)
    size = (NEIGHBOURHOOD_PX, NEIGHBOURHOOD_PX)
    mean = cv2.blur(grey, size, borderType=cv2.BORDER_REFLECT)
    mean_sq = cv2.blur(grey * grey, size, borderType=cv2.BORDER_REFLECT)
    local_std = np.sqrt(np.maximum(mean_sq - mean * mean, 0.0))
    flat = local_std < FLAT_STD
    return flat & ((grey >= BRIGHT_LEVEL) | (grey <= DARK_LEVEL))


def is_fabric_tile(
    background: np.ndarray, box: TileBox, *, max_background: float = DEFAULT_MAX_BACKGROUND
) -> bool:
    """Apply the rule to one window of a precomputed :func:`background_mask`."""
    window = background[box.y : box.y + box.size, box.x : box.x + box.size]
    return float(window.mean()) <= max_background


def fabric_tile_boxes(
    image: np.ndarray,
    background: np.ndarray,
    *,
    tile_px: int,
    overlap_px: int = 0,
    max_background: float = DEFAULT_MAX_BACKGROUND,
) -> list[TileBox]:
    """Tile windows across the image's web span (as the station tiles), background ones dropped."""
    if not 0 <= overlap_px < tile_px:
        raise ValueError(f"overlap {overlap_px} px must be in [0, tile size {tile_px})")
    height, width = image.shape[:2]
    if height < tile_px or width < tile_px:
        raise ValueError(f"image of {width}x{height} px is smaller than the tile size {tile_px} px")
    span = find_web_span(background, max_background_fraction=max_background)
    if span is None or span.width_px < tile_px:
        return []
    stride = tile_px - overlap_px
    xs = [span.left + start for start in window_starts(span.width_px, tile_px, stride)]
    boxes = [
        TileBox(x=x, y=y, size=tile_px) for y in window_starts(height, tile_px, stride) for x in xs
    ]
    return [b for b in boxes if is_fabric_tile(background, b, max_background=max_background)]


def cut_tiles(
    image: np.ndarray,
    *,
    tile_px: int,
    overlap_px: int = 0,
    max_background: float = DEFAULT_MAX_BACKGROUND,
) -> tuple[list[TileBox], list[np.ndarray]]:
    """Cut fabric tiles out of an image across its web span, dropping background-dominated ones.

    Returns:
        ``(boxes, tiles)`` for the kept tiles; tiles are views into ``image``.
    """
    background = background_mask(image)
    boxes = fabric_tile_boxes(
        image, background, tile_px=tile_px, overlap_px=overlap_px, max_background=max_background
    )
    tiles = [image[b.y : b.y + b.size, b.x : b.x + b.size] for b in boxes]
    return boxes, tiles

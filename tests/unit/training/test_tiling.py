"""Sliding windows and the background rule (training.data.tiling)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from training.data.fabric import preset, render_fabric
from training.data.tiling import (
    TileBox,
    background_mask,
    cut_tiles,
    is_fabric_tile,
    tile_boxes,
    window_starts,
)
from training.data.web_span import find_web_span


@pytest.mark.parametrize(
    ("length", "tile", "stride"),
    [(256, 64, 64), (257, 64, 64), (1001, 64, 48), (3796, 256, 256), (97, 31, 7), (64, 64, 32)],
)
def test_windows_cover_everything_and_the_last_is_flush(length: int, tile: int, stride: int):
    starts = window_starts(length, tile, stride)
    assert starts[0] == 0 and starts[-1] == length - tile
    assert all(0 < b - a <= stride for a, b in itertools.pairwise(starts))
    covered = np.zeros(length, dtype=bool)
    for start in starts:
        covered[start : start + tile] = True
    assert covered.all()
    # No window more than needed: without the flush one, the regular grid falls short.
    regular = list(range(0, length - tile + 1, stride))
    assert starts[: len(regular)] == regular and len(starts) - len(regular) in (0, 1)


def test_window_errors() -> None:
    with pytest.raises(ValueError, match="smaller than the tile"):
        window_starts(50, 64, 64)
    with pytest.raises(ValueError, match="overlap"):
        tile_boxes(128, 128, tile_px=64, overlap_px=64)


def test_tile_boxes_row_by_row_with_overlap() -> None:
    boxes = tile_boxes(100, 150, tile_px=64, overlap_px=16)
    xs, ys = sorted({b.x for b in boxes}), sorted({b.y for b in boxes})
    assert xs == [0, 48, 86] and ys == [0, 36]
    assert boxes[:3] == [TileBox(0, 0, 64), TileBox(48, 0, 64), TileBox(86, 0, 64)]


def _fabric(height: int, width: int, *, seed: int = 0) -> np.ndarray:
    return render_fabric(preset("grey_twill"), height_px=height, width_px=width, seed=seed)


def test_flat_white_and_black_are_background_bright_textured_fabric_is_not() -> None:
    fabric = _fabric(96, 96).astype(np.float32)
    bright = np.clip(fabric - fabric.mean() + 235, 0, 255).astype(np.uint8)
    assert bright.mean() == pytest.approx(235, abs=2) and (bright >= 230).mean() > 0.5
    flat_white = np.full((96, 96), 245, np.uint8)
    flat_black = np.full((96, 96), 12, np.uint8)
    flat_grey = np.full((96, 96), 128, np.uint8)
    noisy_white = np.clip(245 + np.random.default_rng(0).normal(0, 1, (96, 96)), 0, 255).astype(
        np.uint8
    )  # sensor noise on the lit background is still background
    assert background_mask(flat_white).all() and background_mask(noisy_white).mean() > 0.99
    assert background_mask(flat_black).all()
    assert not background_mask(flat_grey).any()
    assert background_mask(bright).mean() < 0.05
    assert not background_mask(_fabric(96, 96)).any()
    rgb_white = np.repeat(flat_white[..., None], 3, axis=2)
    assert background_mask(rgb_white).all()


@pytest.mark.parametrize(("white_columns", "tiles_expected"), [(60, 0), (40, 0), (0, 1)])
def test_a_web_narrower_than_a_tile_is_not_tiled(white_columns: int, tiles_expected: int) -> None:
    image = _fabric(100, 100)
    image[:, :white_columns] = 250
    boxes, tiles = cut_tiles(image, tile_px=100)
    assert len(boxes) == tiles_expected
    if tiles_expected:
        assert np.shares_memory(tiles[0], image) and np.array_equal(tiles[0], image)


def test_at_most_half_background_is_fabric() -> None:
    box = TileBox(x=2, y=1, size=10)
    background = np.zeros((12, 14), dtype=bool)
    background[1:6, 2:12] = True  # exactly 50 of the window's 100 pixels
    assert is_fabric_tile(background, box)
    background[6, 2] = True  # 51
    assert not is_fabric_tile(background, box)
    background[0, :] = True  # outside the window: does not count
    background[6, 2] = False
    assert is_fabric_tile(background, box)


def test_tiles_start_at_the_web_edge_and_end_flush_with_the_image() -> None:
    strip = _fabric(64, 320, seed=3)
    strip[:, :128] = 252  # the machine background beyond the web edge
    span = find_web_span(background_mask(strip))
    assert span is not None and 120 <= span.left <= 128 and span.right == 320
    boxes, tiles = cut_tiles(strip, tile_px=64)
    xs = [b.x for b in boxes]
    assert xs[0] == span.left and xs[-1] == 320 - 64  # first at the edge, last flush
    assert all(b - a <= 64 for a, b in itertools.pairwise(xs))  # no gaps
    for box, tile in zip(boxes, tiles, strict=True):
        assert np.array_equal(tile, strip[box.y : box.y + 64, box.x : box.x + 64])

"""Tiling a row: windows across the web span only, the last flush with the web edge."""

from __future__ import annotations

import numpy as np

from station.pipeline.tiler import tile_columns, tile_row, to_model_channels
from station.pipeline.web_edges import WebSpan
from tests.unit.pipeline.helpers import web_row


def test_tiles_cover_the_span_and_the_last_is_flush_with_its_right_edge() -> None:
    xs = tile_columns(WebSpan(100, 400), tile_px=64, overlap_px=16)
    assert xs == (100, 148, 196, 244, 292, 336)
    assert xs[-1] + 64 == 400


def test_no_overlap_gives_adjacent_tiles() -> None:
    assert tile_columns(WebSpan(0, 256), tile_px=64, overlap_px=0) == (0, 64, 128, 192)


def test_web_narrower_than_a_tile_or_missing_gives_no_tiles() -> None:
    assert tile_columns(WebSpan(10, 60), tile_px=64, overlap_px=0) == ()
    assert tile_columns(None, tile_px=64, overlap_px=0) == ()


def test_tile_row_cuts_the_pixels_at_each_tiles_place() -> None:
    row = web_row(128, tile_px=64, width=300, span=WebSpan(40, 300))
    tiled = tile_row(row, tile_px=64, overlap_px=0, in_channels=1)
    assert tiled.tiles.shape == (5, 64, 64, 1) and tiled.tiles.dtype == np.uint8
    for tile, x in zip(tiled.tiles, tiled.xs, strict=True):
        np.testing.assert_array_equal(tile[..., 0], row.pixels[:, x : x + 64])


def test_row_without_fabric_has_zero_tiles() -> None:
    row = web_row(0, tile_px=64, width=300, span=WebSpan(0, 30))
    tiled = tile_row(row, tile_px=64, overlap_px=0, in_channels=3)
    assert tiled.num_tiles == 0 and tiled.tiles.shape == (0, 64, 64, 3)


def test_channel_conversion_for_grey_and_colour_models() -> None:
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert to_model_channels(grey, 1).shape == (3, 4, 1)
    np.testing.assert_array_equal(to_model_channels(grey, 3)[..., 2], grey)
    colour = np.zeros((3, 4, 3), np.uint8)
    colour[..., 0] = 255  # pure red: OpenCV's grey weight for red is 0.299
    assert int(to_model_channels(colour, 1)[0, 0, 0]) == 76
    assert to_model_channels(colour, 3) is colour

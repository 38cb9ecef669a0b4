"""Stitching: tile maps blended (mean) in web coordinates; off-web and background score 0."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from station.pipeline.stitching import ScoreBand
from station.pipeline.web_edges import WebSpan
from tests.unit.pipeline.helpers import scored_row, web_row

S = 32


def test_overlapping_tiles_are_averaged() -> None:
    band = ScoreBand()
    row = web_row(0, tile_px=S, width=100, span=WebSpan(0, 100))
    band.add(scored_row(row, (0, 16), [np.full((S, S), 0.2), np.full((S, S), 0.6)]))
    scores = band.blended(0, S)
    np.testing.assert_allclose(scores[:, :16], 0.2)
    np.testing.assert_allclose(scores[:, 16:32], 0.4)  # both tiles: mean
    np.testing.assert_allclose(scores[:, 32:48], 0.6)
    np.testing.assert_array_equal(scores[:, 48:], 0.0)  # no tile: off the web


def test_overlapping_rows_are_averaged_along_the_roll_too() -> None:
    band = ScoreBand()
    band.add(scored_row(web_row(0, tile_px=S, width=S), (0,), [np.full((S, S), 1.0)]))
    band.add(scored_row(web_row(24, tile_px=S, width=S), (0,), [np.full((S, S), 0.0)]))
    scores = band.blended(0, 56)
    np.testing.assert_allclose(scores[:24], 1.0)
    np.testing.assert_allclose(scores[24:32], 0.5)
    np.testing.assert_allclose(scores[32:], 0.0)


def test_background_pixels_score_zero() -> None:
    background = np.zeros((S, S), bool)
    background[5:9, 3:7] = True
    band = ScoreBand()
    row = web_row(0, tile_px=S, width=S, background=background)
    band.add(scored_row(row, (0,), [np.full((S, S), 0.9)]))
    scores = band.blended(0, S)
    assert scores[background].max() == 0.0 and scores[~background].min() == pytest.approx(0.9)


def test_lines_missing_between_rows_score_zero_and_have_no_position() -> None:
    band = ScoreBand()
    band.add(scored_row(web_row(0, tile_px=S, width=S), (0,), [np.ones((S, S))]))
    band.add(scored_row(web_row(100, tile_px=S, width=S), (0,), [np.ones((S, S))]))
    assert band.blended(S, 100).max() == 0.0
    assert np.isnan(band.along_mm[S:100]).all()
    np.testing.assert_allclose(band.along_mm[100:], (100 + np.arange(S)) * 0.1)


def test_trim_forgets_old_lines_and_their_tiles() -> None:
    band = ScoreBand()
    for first in (0, S, 2 * S):
        band.add(scored_row(web_row(first, tile_px=S, width=S), (0,), [np.full((S, S), first)]))
    band.trim(S + 5)
    assert band.origin_line == S + 5 and band.num_lines == 2 * S - 5
    np.testing.assert_allclose(band.blended(2 * S, 3 * S), 2 * S)
    assert [t.first_line for t in band.tiles] == [S, 2 * S]
    with pytest.raises(ValueError, match="outside the band"):
        band.blended(0, S)


def test_each_line_keeps_the_union_of_its_rows_web_spans_and_its_segment() -> None:
    band = ScoreBand()
    first = web_row(0, tile_px=S, width=100, span=WebSpan(10, 80))
    second = replace(web_row(24, tile_px=S, width=100, span=WebSpan(4, 70)), segment=0)
    third = replace(web_row(56, tile_px=S, width=100, span=WebSpan(30, 100)), segment=1)
    for row in (first, second, third):
        band.add(scored_row(row, (row.span.left,), [np.full((S, S), 0.5)]))
    np.testing.assert_array_equal(band.web_left, [10] * 24 + [4] * 32 + [30] * 32)
    np.testing.assert_array_equal(band.web_right, [80] * 24 + [80] * 8 + [70] * 24 + [100] * 32)
    np.testing.assert_array_equal(band.segment, [0] * 56 + [1] * 32)
    band.trim(50)
    assert len(band.web_left) == len(band.web_right) == len(band.segment) == 38

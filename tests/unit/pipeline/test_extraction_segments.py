"""Extraction per segment: no component joins two segments; defects stay inside the web."""

from __future__ import annotations

import logging
from dataclasses import replace

import cv2
import numpy as np
import pytest

from station.pipeline.defect_bounds import Box, crop_window, keep_inside_web, segment_runs
from station.pipeline.extraction import DefectExtractor, ExtractionSettings, FoundDefect
from station.pipeline.stitching import ScoreBand
from station.pipeline.web_edges import WebSpan
from tests.unit.pipeline.helpers import scored_row, web_row

S = 32
WIDTH = 128
MM_PX, MM_LINE = 0.2, 0.5


def _extractor(**overrides: object) -> DefectExtractor:
    values: dict = {"threshold": 0.5, "mm_per_px": MM_PX, "mm_per_line": MM_LINE}
    values.update(overrides)
    return DefectExtractor(ScoreBand(), ExtractionSettings(classes=("twill",), **values))


def _feed_segments(
    extractor: DefectExtractor,
    scores: np.ndarray,
    segment_rows: list[int],
    lefts: list[int],
) -> tuple[list[FoundDefect], list[FoundDefect]]:
    """Rows of S lines, row k in segment ``segment_rows[k]`` with its web from ``lefts[k]``.

    Returns (found before the end, found in all).
    """
    found: list[FoundDefect] = []
    for index, (segment, left) in enumerate(zip(segment_rows, lefts, strict=True)):
        first = index * S
        xs = tuple(range(left, WIDTH - S + 1, S))
        row = web_row(first, tile_px=S, width=WIDTH, span=WebSpan(left, WIDTH), mm_per_line=MM_LINE)
        maps = [scores[first : first + S, x : x + S] for x in xs]
        extractor.band.add(scored_row(replace(row, segment=segment), xs, maps))
        found += extractor.extract(first)
    return found, found + extractor.extract(len(segment_rows) * S, end=True)


def _scores(lines: int, boxes: list[tuple[int, int, int, int]]) -> np.ndarray:
    scores = np.full((lines, WIDTH), 0.1, np.float32)
    for y0, y1, x0, x1 in boxes:
        scores[y0:y1, x0:x1] = 0.9
    return scores


def test_a_component_touching_both_sides_of_a_boundary_becomes_two_defects() -> None:
    scores = _scores(4 * S, [(50, 80, 20, 40)])  # crosses the boundary at line 64
    before_end, found = _feed_segments(_extractor(), scores, [0, 0, 1, 1], [0] * 4)
    boxes = sorted((d.first_line, d.end_line, d.x0, d.x1) for d in found)
    assert boxes == [(50, 64, 20, 40), (64, 80, 20, 40)]
    assert len(before_end) == 2  # the first piece is complete once the next segment begins
    for defect in found:
        assert defect.length_mm == pytest.approx((defect.end_line - defect.first_line) * MM_LINE)


def test_the_same_field_in_one_segment_is_one_defect() -> None:
    scores = _scores(4 * S, [(50, 80, 20, 40)])
    _, found = _feed_segments(_extractor(), scores, [0, 0, 0, 0], [0] * 4)
    assert [(d.first_line, d.end_line) for d in found] == [(50, 80)]


def test_a_defect_held_open_at_the_end_of_a_segment_is_reported_when_the_next_starts() -> None:
    scores = _scores(4 * S, [(40, 64, 5, 9)])  # reaches the last line of segment 0
    extractor = _extractor()
    before_end, _ = _feed_segments(extractor, scores, [0, 0, 1, 1], [0] * 4)
    assert [(d.first_line, d.end_line) for d in before_end] == [(40, 64)]
    assert extractor.open_components == 0


def test_across_is_measured_from_the_web_of_the_defect_s_own_segment() -> None:
    # Segment 0 has its web from column 32, segment 1 from column 0; a stripe crosses both.
    scores = _scores(4 * S, [(56, 72, 8, 56)])
    _, found = _feed_segments(_extractor(), scores, [0, 0, 1, 1], [32, 32, 0, 0])
    upper, lower = sorted(found, key=lambda d: d.first_line)
    assert (upper.first_line, upper.end_line, upper.x0, upper.x1) == (56, 64, 32, 56)
    assert upper.across_mm == pytest.approx((44 - 32) * MM_PX)
    assert (lower.first_line, lower.end_line, lower.x0, lower.x1) == (64, 72, 8, 56)
    assert lower.across_mm == pytest.approx(32 * MM_PX)
    for defect in found:
        assert defect.across_mm >= 0 and defect.width_mm <= WIDTH * MM_PX


def test_a_crop_next_to_a_boundary_slides_into_its_segment_instead_of_crossing_it() -> None:
    scores = _scores(4 * S, [(64, 70, 40, 50)])  # the first lines of segment 1
    extractor = _extractor(crop_margin_px=8)
    _, found = _feed_segments(extractor, scores, [0, 0, 1, 1], [0] * 4)
    (defect,) = found
    crop = cv2.imdecode(np.frombuffer(defect.crop_png, np.uint8), cv2.IMREAD_UNCHANGED)
    heat = cv2.imdecode(np.frombuffer(defect.heatmap_png, np.uint8), cv2.IMREAD_UNCHANGED)
    assert crop.shape == (6 + 16, 10 + 16) and heat.shape == (6 + 16, 10 + 16, 3)
    # Lines 64-85 of segment 1 (rows are fabric rendered from their first line).
    expected = web_row(64, tile_px=S, width=WIDTH).pixels[: 6 + 16, 32:58]
    np.testing.assert_array_equal(crop, expected)


def test_a_defect_reaching_outside_the_web_is_clipped_with_one_error_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    extractor = _extractor()
    scores = _scores(2 * S, [(10, 20, 60, 100)])
    row = web_row(0, tile_px=S, width=WIDTH, mm_per_line=MM_LINE)
    xs = tuple(range(0, WIDTH - S + 1, S))
    extractor.band.add(scored_row(row, xs, [scores[:S, x : x + S] for x in xs]))
    extractor.band.web_right[:] = 80  # as if stitching had scored columns off the web
    with caplog.at_level(logging.ERROR, logger="station.pipeline.defect_bounds"):
        (defect,) = extractor.extract(S, end=True)
    assert (defect.x0, defect.x1) == (60, 80)
    assert defect.width_mm == pytest.approx(20 * MM_PX)
    assert defect.area_px == 10 * 20
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "\n" not in errors[0].getMessage()
    assert "lines 10-20, columns 60-100 reaches outside the web (columns 0-80" in (
        errors[0].getMessage()
    )


def test_keep_inside_web_drops_what_lies_wholly_off_the_web(
    caplog: pytest.LogCaptureFixture,
) -> None:
    component = np.ones((4, 5), bool)
    inside, same = keep_inside_web(Box(10, 0, 5, 4), component, (0, 50), first_line=0)
    assert inside == Box(10, 0, 5, 4) and same is component
    with caplog.at_level(logging.ERROR):
        off, _ = keep_inside_web(Box(60, 0, 5, 4), component, (0, 50), first_line=7)
        none, _ = keep_inside_web(Box(10, 0, 5, 4), component, None, first_line=7)
    assert off is None and none is None
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 2


def test_segment_runs_and_crop_windows() -> None:
    assert segment_runs(np.array([0, 0, 1, 1, 1, 2])) == [(0, 2), (2, 5), (5, 6)]
    assert segment_runs(np.zeros(0, np.int64)) == []
    assert crop_window(50, 10, 8, (0, 100)) == (42, 68)  # margin both sides
    assert crop_window(2, 10, 8, (0, 100)) == (0, 26)  # slides down from the start
    assert crop_window(95, 5, 8, (0, 100)) == (79, 100)  # slides up from the end
    assert crop_window(3, 10, 8, (0, 20)) == (0, 20)  # a short segment: all of it

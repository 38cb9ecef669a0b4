"""Defect extraction: components across tile and row borders, geometry in mm, points."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from station.pipeline.extraction import DefectExtractor, ExtractionSettings
from station.pipeline.stitching import ScoreBand
from station.pipeline.web_edges import WebSpan
from tests.unit.pipeline.helpers import scored_row, web_row

S = 32
WIDTH = 128
MM_PX, MM_LINE = 0.2, 0.5


def _extractor(**overrides: object) -> DefectExtractor:
    values: dict = {
        "threshold": 0.5,
        "mm_per_px": MM_PX,
        "mm_per_line": MM_LINE,
        "classes": ("denim", "twill"),
    }
    values.update(overrides)
    return DefectExtractor(ScoreBand(), ExtractionSettings(**values))


def _web_scores(lines: int, boxes: list[tuple[int, int, int, int]]) -> np.ndarray:
    """A web-sized score field: 0.9 inside each (y0, y1, x0, x1) box, 0.1 elsewhere."""
    scores = np.full((lines, WIDTH), 0.1, np.float32)
    for y0, y1, x0, x1 in boxes:
        scores[y0:y1, x0:x1] = 0.9
    return scores


def _feed(extractor: DefectExtractor, scores: np.ndarray, *, left: int = 0, classes=None):
    """Cut the field into rows of S x S tiles from ``left``, feed them in order, then end."""
    found = []
    xs = tuple(range(left, WIDTH - S + 1, S))
    for first in range(0, scores.shape[0], S):
        row = web_row(first, tile_px=S, width=WIDTH, span=WebSpan(left, WIDTH), mm_per_line=MM_LINE)
        maps = [scores[first : first + S, x : x + S] for x in xs]
        extractor.band.add(scored_row(row, xs, maps, classes=classes))
        found += extractor.extract(first)  # lines before this row's start are final
    return found, found + extractor.extract(scores.shape[0], end=True)


def test_a_defect_across_two_tile_rows_and_a_tile_border_is_one_defect() -> None:
    scores = _web_scores(4 * S, [(20, 50, 25, 40)])  # crosses line 32 and column 32
    _, found = _feed(_extractor(), scores)
    assert len(found) == 1
    defect = found[0]
    assert (defect.first_line, defect.end_line, defect.x0, defect.x1) == (20, 50, 25, 40)
    assert defect.length_mm == pytest.approx(30 * MM_LINE)
    assert defect.width_mm == pytest.approx(15 * MM_PX)
    assert defect.along_mm == pytest.approx((20 + 15) * MM_LINE)  # centre of lines 20-49
    assert defect.across_camera_mm == pytest.approx(32.5 * MM_PX)
    assert defect.area_mm2 == pytest.approx(30 * 15 * MM_PX * MM_LINE)
    assert defect.peak_score == pytest.approx(0.9)


def test_across_is_measured_from_the_web_left_edge() -> None:
    scores = _web_scores(2 * S, [(4, 10, 70, 80)])
    _, found = _feed(_extractor(), scores, left=32)
    assert found[0].across_mm == pytest.approx((75 - 32) * MM_PX)
    assert found[0].across_camera_mm == pytest.approx(75 * MM_PX)


def test_a_defect_is_held_until_the_web_has_moved_past_it() -> None:
    scores = _web_scores(4 * S, [(40, 70, 5, 9)])
    before_end, found = _feed(_extractor(), scores)
    assert len(found) == 1 and found[0].first_line == 40 and found[0].end_line == 70
    assert len(before_end) == 1  # finished once lines past 70 were final, not at the end


def test_separate_defects_are_separate_and_each_reported_once() -> None:
    scores = _web_scores(4 * S, [(2, 6, 2, 6), (2, 6, 60, 70), (80, 120, 100, 110)])
    _, found = _feed(_extractor(), scores)
    boxes = sorted((d.first_line, d.x0) for d in found)
    assert boxes == [(2, 2), (2, 60), (80, 100)]


def test_diagonal_touch_connects_pixels() -> None:
    scores = np.full((2 * S, WIDTH), 0.1, np.float32)
    scores[10, 10] = scores[11, 11] = scores[12, 12] = 0.9
    _, found = _feed(_extractor(), scores)
    assert len(found) == 1 and found[0].area_px == 3


def test_points_follow_the_largest_dimension() -> None:
    # 160 lines x 0.5 mm = 80 mm (> 3 in = 76.2 mm): 2 points; 10 lines: 1 point.
    scores = _web_scores(8 * S, [(10, 170, 5, 8), (200, 210, 60, 62)])
    _, found = _feed(_extractor(), scores)
    points = {d.first_line: d.points for d in found}
    assert points == {10: 2, 200: 1}


def test_long_defects_are_reported_in_pieces_to_bound_memory() -> None:
    scores = _web_scores(10 * S, [(0, 10 * S, 50, 52)])  # a broken end along the whole web
    extractor = _extractor(max_length_lines=100)
    _, found = _feed(extractor, scores)
    assert len(found) >= 3 and all(d.end_line - d.first_line <= 100 + S for d in found[:-1])
    assert all(d.continued for d in found[:-1])
    covered = sorted((d.first_line, d.end_line) for d in found)
    assert covered[0][0] == 0 and covered[-1][1] == 10 * S
    assert all(a[1] == b[0] for a, b in itertools.pairwise(covered))


def test_band_memory_is_bounded_while_nothing_is_open() -> None:
    extractor = _extractor()
    _feed(extractor, _web_scores(20 * S, [(5, 9, 5, 9)]))
    assert extractor.band.num_lines <= S


def test_small_components_below_the_minimum_area_are_ignored() -> None:
    scores = _web_scores(2 * S, [(2, 4, 2, 4), (10, 30, 40, 60)])
    _, found = _feed(_extractor(min_area_mm2=1.0), scores)  # 4 px = 0.4 mm2
    assert [d.first_line for d in found] == [10]


def test_matched_class_is_the_majority_of_the_tiles_under_the_defect() -> None:
    scores = _web_scores(S, [(5, 10, 20, 100)])  # tiles at x 0, 32, 64, 96 overlap it
    _, found = _feed(_extractor(), scores, classes=[0, 1, 1, 1])
    assert found[0].fabric_class == "twill" and found[0].class_index == 1


def test_crop_and_heatmap_are_pngs_of_the_region_with_margin() -> None:
    scores = _web_scores(2 * S, [(20, 30, 40, 50)])
    _, found = _feed(_extractor(crop_margin_px=8), scores)
    crop = cv2.imdecode(np.frombuffer(found[0].crop_png, np.uint8), cv2.IMREAD_UNCHANGED)
    heat = cv2.imdecode(np.frombuffer(found[0].heatmap_png, np.uint8), cv2.IMREAD_UNCHANGED)
    assert crop.shape == (26, 26) and heat.shape == (26, 26, 3)
    _, without = _feed(_extractor(save_images=False), scores)
    assert without[0].crop_png is None and without[0].heatmap_png is None


def test_threshold_must_be_positive() -> None:
    with pytest.raises(ValueError, match="threshold"):
        _extractor(threshold=0.0)

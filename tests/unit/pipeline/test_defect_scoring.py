"""Defect-level scoring against strip masks, on hand-made defects (no pipeline).

The pipeline tests cannot produce a defect that breaks a replay invariant (the
station prevents them), so the counting of breaches is checked here, with the
found / localised / error rules on exact geometry: 1 mm per pixel and per line.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from station.pipeline.defect_scoring import (
    LOCALISED_MM,
    StripTruth,
    score_strip,
    score_strips,
    tallies,
)
from station.pipeline.extraction import FoundDefect

WIDTH = 200


def _defect(first: int, end: int, x0: int, x1: int, *, web_left: int = 0) -> FoundDefect:
    """A defect whose mm figures follow its box at 1 mm/px, 1 mm/line."""
    return FoundDefect(
        first_line=first,
        end_line=end,
        x0=x0,
        x1=x1,
        along_mm=(first + end) / 2,
        across_mm=(x0 + x1) / 2 - web_left,
        across_camera_mm=(x0 + x1) / 2,
        length_mm=end - first,
        width_mm=x1 - x0,
        area_mm2=(end - first) * (x1 - x0),
        area_px=(end - first) * (x1 - x0),
        peak_score=1.0,
        class_index=0,
        fabric_class="a",
        points=1,
    )


def _truth(first_line: int, lines: int, mask_box=None, web=(0, WIDTH), fabric="a") -> StripTruth:
    mask = None
    if mask_box is not None:
        mask = np.zeros((lines, WIDTH), bool)
        y0, y1, x0, x1 = mask_box
        mask[y0:y1, x0:x1] = True
    return StripTruth(f"s{first_line}", fabric, first_line, lines, mask, web)


def _score(defects, truth):
    return score_strip(defects, truth, mm_per_px=1.0, mm_per_line=1.0)


def test_found_localised_and_the_error_to_the_nearest_mask_pixel() -> None:
    truth = _truth(100, 50, mask_box=(10, 20, 50, 60))  # lines 110-120, columns 50-60
    # Overlaps the mask at its corner; centre (along 125, across 65): 5 past the box both ways.
    score = _score([_defect(115, 135, 55, 75)], truth)
    assert (score.found, score.localised) == (True, True)
    assert score.error_mm == pytest.approx(np.hypot(5, 5))
    assert score.box_gap_mm == 0.0  # its mm box meets the mask's
    # Long across the web: centre 100 - 60 = 40 mm past the box, more than the rule allows.
    wide = _score([_defect(112, 114, 55, 145)], truth)
    assert (wide.found, wide.localised, wide.error_mm) == (True, False, pytest.approx(40.0))
    assert LOCALISED_MM < 40.0
    # Of two on the mask the better counts; one off the mask is off_mask, not an alarm.
    both = _score(
        [_defect(112, 114, 55, 145), _defect(111, 119, 52, 58), _defect(130, 140, 0, 5)], truth
    )
    assert (both.localised, both.error_mm, both.off_mask, both.false_alarms) == (True, 0.0, 1, 0)
    missed = _score([_defect(130, 140, 50, 60)], truth)
    assert (missed.found, missed.error_mm, missed.off_mask) == (False, None, 1)


def test_a_mm_box_away_from_the_mask_is_a_box_gap() -> None:
    truth = _truth(0, 50, mask_box=(10, 20, 50, 60))
    defect = _defect(10, 20, 50, 60)
    shifted = replace(defect, across_camera_mm=75.0)  # its mm figures 20 mm off
    score = _score([shifted], truth)
    assert score.found and score.box_gap_mm == pytest.approx(10.0)


def test_breaches_of_the_replay_invariants_are_counted() -> None:
    truth = _truth(0, 50, web=(20, 180))  # defect-free, web 160 mm wide from column 20
    defects = [
        _defect(40, 60, 30, 40, web_left=20),  # runs past the strip's last line
        _defect(0, 5, 10, 40, web_left=20),  # starts left of the web
        _defect(0, 5, 30, 40, web_left=40),  # across_mm negative: measured from elsewhere
        _defect(5, 6, 25, 35, web_left=20),  # clean
    ]
    score = _score(defects, truth)
    assert (score.across_boundary, score.outside_web, score.wider_than_web) == (1, 1, 1)
    assert score.false_alarms == 4 and score.metres == pytest.approx(0.05)


def test_defects_go_to_the_strip_of_their_first_line_and_tally_per_fabric() -> None:
    truths = [
        _truth(0, 50, mask_box=(0, 10, 0, 10), fabric="a"),
        _truth(50, 40, fabric="a"),
        _truth(90, 60, mask_box=(0, 10, 0, 10), fabric="b"),
        _truth(150, 100, fabric="b"),
    ]
    defects = [_defect(2, 8, 2, 8), _defect(60, 62, 100, 110), _defect(49, 52, 100, 120)]
    scores = score_strips(defects, truths, mm_per_px=1.0, mm_per_line=1.0)
    assert [s.defects for s in scores] == [2, 1, 0, 0]
    assert scores[0].across_boundary == 1  # lines 49-52 cross into the next strip
    by_fabric, total = tallies(scores)
    a, b = by_fabric
    assert (a.found, a.missed, a.false_alarms, a.false_alarms_per_m) == (1, 0, 1, 25.0)
    assert (b.found, b.missed, b.false_alarms, b.false_alarms_per_m) == (0, 1, 0, 0.0)
    assert (total.defect_strips, total.found, total.normal_metres) == (2, 1, pytest.approx(0.14))
    assert total.error_median_mm == 0.0 and total.across_boundary == 1

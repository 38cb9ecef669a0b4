"""Web-edge detection: the fabric columns, by the training data's background rule."""

from __future__ import annotations

import numpy as np

from station.pipeline.web_edges import WebSpan, fabric_columns, find_web_span
from tests.unit.pipeline.helpers import fabric, web_with_margin
from training.data.tiling import background_mask


def test_white_machine_background_left_of_the_web_is_not_fabric() -> None:
    pixels = web_with_margin(64, 400, left_margin=120)
    span = find_web_span(background_mask(pixels))
    # The 9x9 rule blurs the edge by at most half its window.
    assert span is not None and abs(span.left - 120) <= 4 and span.right == 400


def test_fabric_filling_the_camera_is_one_span() -> None:
    assert find_web_span(background_mask(fabric(64, 300))) == WebSpan(0, 300)


def test_dark_flat_band_right_of_the_web_is_off_the_web() -> None:
    pixels = fabric(48, 300)
    pixels[:, 250:] = 5  # no web: black
    span = find_web_span(background_mask(pixels))
    assert span is not None and span.left == 0 and abs(span.right - 250) <= 4


def test_narrow_background_gap_inside_the_web_is_bridged_wide_one_is_not() -> None:
    background = np.zeros((10, 500), bool)
    background[:, 200:230] = True  # a 30 px white stain across all lines
    assert find_web_span(background, bridge_gap_px=64) == WebSpan(0, 500)
    span = find_web_span(background, bridge_gap_px=16)
    assert span == WebSpan(230, 500)  # the longer of the two runs


def test_column_rule_uses_the_background_share() -> None:
    background = np.zeros((10, 4), bool)
    background[:5, 1] = True  # half background: still fabric at 0.5
    background[:6, 2] = True  # 60 %: off the web
    assert fabric_columns(background, max_background_fraction=0.5).tolist() == [
        True,
        True,
        False,
        True,
    ]


def test_all_background_has_no_web() -> None:
    assert find_web_span(np.ones((8, 50), bool)) is None

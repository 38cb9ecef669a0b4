"""Web previews: display-sized shapes, block means and maxima, positions, rate limit."""

from __future__ import annotations

import numpy as np
import pytest

from station.pipeline.preview import THRESHOLD_LEVEL, PreviewMaker, block_reduce, score_levels


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def lines(first: int, count: int, width: int, *, mm_per_line: float, seed: int = 0):
    rng = np.random.default_rng(seed + first)
    pixels = rng.integers(0, 256, size=(count, width), dtype=np.uint8)
    scores = rng.random((count, width), dtype=np.float32)
    along = (first + np.arange(count)) * mm_per_line
    return pixels, scores, along


def test_block_reduce_takes_pixel_means_and_score_maxima() -> None:
    pixels = np.arange(4 * 6, dtype=np.uint8).reshape(4, 6)
    scores = np.zeros((4, 6), np.float32)
    scores[3, 4] = 0.9
    small_pixels, small_scores = block_reduce(pixels, scores, factor_y=2, factor_x=3)
    assert small_pixels.shape == small_scores.shape == (2, 2)
    assert small_pixels[0, 0] == round(np.mean(pixels[0:2, 0:3]))
    assert small_pixels[1, 1] == round(np.mean(pixels[2:4, 3:6]))
    assert small_scores[1, 1] == pytest.approx(0.9) and small_scores[0, 0] == 0.0


@pytest.mark.parametrize(("factor_y", "factor_x", "width"), [(4, 4, 4099), (2, 3, 301), (1, 1, 17)])
def test_block_reduce_matches_plain_block_means_and_maxima(
    factor_y: int, factor_x: int, width: int
) -> None:
    rng = np.random.default_rng(factor_y * 100 + width)
    pixels = rng.integers(0, 256, size=(8 * factor_y, width), dtype=np.uint8)
    scores = rng.random((8 * factor_y, width), dtype=np.float32)
    small_pixels, small_scores = block_reduce(pixels, scores, factor_y=factor_y, factor_x=factor_x)
    columns = width // factor_x
    blocks = pixels[:, : columns * factor_x].reshape(8, factor_y, columns, factor_x)
    expected_means = np.rint(blocks.mean(axis=(1, 3)))
    assert np.abs(small_pixels.astype(int) - expected_means).max() <= 1  # rounding of halves
    score_blocks = scores[:, : columns * factor_x].reshape(8, factor_y, columns, factor_x)
    np.testing.assert_array_equal(small_scores, score_blocks.max(axis=(1, 3)))


def test_score_levels_put_the_threshold_in_the_middle() -> None:
    levels = score_levels(np.array([0.0, 0.5, 1.0, 5.0], np.float32), threshold=0.5)
    assert levels.tolist() == [0, THRESHOLD_LEVEL, 255, 255]


def test_square_display_pixels_and_the_configured_width() -> None:
    maker = PreviewMaker(mm_per_px=0.2, mm_per_line=0.1, display_width_px=1024)
    assert maker.factors_for(4096) == (8, 4)  # 4 px x 0.2 mm across = 8 lines x 0.1 mm along
    assert maker.factors_for(1000) == (2, 1)


def test_preview_carries_every_final_line_once_with_positions() -> None:
    clock = FakeClock()
    maker = PreviewMaker(
        mm_per_px=0.1, mm_per_line=0.1, display_width_px=64, rate_hz=10, clock=clock
    )
    width = 256  # factor 4 across and along
    for first in (0, 64, 128):
        pixels, scores, along = lines(first, 64, width, mm_per_line=0.1)
        maker.add(first_line=first, pixels=pixels, scores=scores, along_mm=along, threshold=0.5)
    preview = maker.take()
    assert preview is not None
    assert preview.pixels.shape == preview.scores.shape == (48, 64)
    assert preview.pixels.dtype == preview.scores.dtype == np.uint8
    np.testing.assert_allclose(preview.along_mm, np.arange(48) * 0.4)
    assert preview.mm_per_px == pytest.approx(0.4) and preview.mm_per_row == pytest.approx(0.4)
    assert preview.width_mm == pytest.approx(25.6)
    # lines given again are not shown twice
    pixels, scores, along = lines(128, 64, width, mm_per_line=0.1)
    maker.add(first_line=128, pixels=pixels, scores=scores, along_mm=along, threshold=0.5)
    clock.now += 1.0
    assert maker.take() is None


def test_partial_blocks_wait_for_the_next_lines() -> None:
    maker = PreviewMaker(mm_per_px=0.1, mm_per_line=0.1, display_width_px=64, rate_hz=10)
    pixels, scores, along = lines(0, 10, 256, mm_per_line=0.1)  # 2 whole blocks of 4, 2 left
    maker.add(first_line=0, pixels=pixels, scores=scores, along_mm=along, threshold=0.5)
    first = maker.take()
    assert first is not None and first.num_rows == 2
    pixels, scores, along = lines(10, 6, 256, mm_per_line=0.1)
    maker.add(first_line=10, pixels=pixels, scores=scores, along_mm=along, threshold=0.5)
    second = maker.take(force=True)
    assert second is not None and second.num_rows == 2
    np.testing.assert_allclose(second.along_mm, [0.8, 1.2])


def test_previews_are_rate_limited_and_rows_between_them_are_kept() -> None:
    clock = FakeClock()
    maker = PreviewMaker(
        mm_per_px=0.1, mm_per_line=0.1, display_width_px=64, rate_hz=20, clock=clock
    )
    published = []
    for step in range(40):  # a row of 16 lines every 10 ms: 100 rows/s against 20 Hz
        pixels, scores, along = lines(step * 16, 16, 256, mm_per_line=0.1)
        maker.add(first_line=step * 16, pixels=pixels, scores=scores, along_mm=along, threshold=0.5)
        preview = maker.take()
        if preview is not None:
            published.append(preview)
        clock.now += 0.01
    assert 7 <= len(published) <= 9  # 0.4 s at 20 Hz (the first one at once)
    times = [p.timestamp_s for p in published]
    assert times == sorted(times)
    rows = np.concatenate([p.along_mm for p in published])
    held = maker.take(force=True)
    if held is not None:
        rows = np.concatenate([rows, held.along_mm])
    np.testing.assert_allclose(rows, np.arange(160) * 0.4)  # no display row lost or doubled


def test_lost_lines_leave_a_gap_and_no_mixed_block() -> None:
    maker = PreviewMaker(mm_per_px=0.1, mm_per_line=0.1, display_width_px=64, rate_hz=10)
    pixels, scores, along = lines(0, 6, 256, mm_per_line=0.1)
    maker.add(first_line=0, pixels=pixels, scores=scores, along_mm=along, threshold=0.5)
    pixels, scores, along = lines(100, 8, 256, mm_per_line=0.1)
    maker.add(first_line=100, pixels=pixels, scores=scores, along_mm=along, threshold=0.5)
    preview = maker.take(force=True)
    assert preview is not None
    np.testing.assert_allclose(preview.along_mm, [0.0, 10.0, 10.4])


def test_held_rows_are_bounded() -> None:
    maker = PreviewMaker(
        mm_per_px=0.1, mm_per_line=0.1, display_width_px=64, rate_hz=1, max_rows=32
    )
    maker.take()
    for step in range(20):
        pixels, scores, along = lines(step * 64, 64, 256, mm_per_line=0.1)
        maker.add(first_line=step * 64, pixels=pixels, scores=scores, along_mm=along, threshold=0.5)
    preview = maker.take(force=True)
    assert preview is not None and preview.num_rows <= 32
    assert maker.rows_dropped == 20 * 16 - preview.num_rows
    assert preview.along_mm[-1] == pytest.approx((20 * 64 - 4) * 0.1)


def test_colour_lines_are_shown_grey() -> None:
    maker = PreviewMaker(mm_per_px=0.1, mm_per_line=0.1, display_width_px=64)
    pixels = np.zeros((4, 256, 3), np.uint8)
    pixels[..., 0] = 90
    maker.add(
        first_line=0,
        pixels=pixels,
        scores=np.zeros((4, 256), np.float32),
        along_mm=np.arange(4) * 0.1,
        threshold=1.0,
    )
    preview = maker.take()
    assert preview is not None and preview.pixels.shape == (1, 64)
    assert int(preview.pixels[0, 0]) == 30


def test_previews_are_made_only_for_subscribers_that_ask_for_them() -> None:
    from station.pipeline.events import Alarm, EventBus, WebPreview

    bus = EventBus()
    bus.subscribe(lambda event: None)  # a catch-all logger does not count
    bus.subscribe(lambda event: None, kinds=(Alarm,))
    assert not bus.asked_for(WebPreview)
    queue = bus.subscribe_queue(maxsize=2, kinds=(WebPreview,))
    assert bus.asked_for(WebPreview)
    for _ in range(3):
        bus.publish(
            WebPreview(
                pixels=np.zeros((1, 4), np.uint8),
                scores=np.zeros((1, 4), np.uint8),
                along_mm=np.zeros(1),
                mm_per_px=1.0,
                mm_per_row=1.0,
            )
        )
    assert len(queue.drain()) == 2 and queue.dropped == 1

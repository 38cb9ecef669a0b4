"""Rates and latency as moving averages: bursts read as their mean, not as 0 or a spike."""

from __future__ import annotations

import pytest

from station.pipeline.figures import FiguresRecorder
from station.pipeline.moving_rates import MovingRates


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_rates_cover_the_window_from_the_sample_at_its_start() -> None:
    rates = MovingRates(window_s=10.0)
    for second in range(31):  # 100 lines every second
        rates.sample(float(second), {"lines": 100.0 * second})
    seconds, grown = rates.change(30.0, {"lines": 3000.0})
    assert seconds == pytest.approx(10.0) and grown["lines"] == pytest.approx(1000.0)
    assert rates.per_second(30.0, {"lines": 3000.0})["lines"] == pytest.approx(100.0)


def test_before_the_window_fills_the_rate_is_since_the_first_sample() -> None:
    rates = MovingRates(window_s=20.0)
    rates.sample(0.0, {"tiles": 0.0})
    assert rates.per_second(4.0, {"tiles": 80.0})["tiles"] == pytest.approx(20.0)
    assert rates.per_second(0.0, {"tiles": 0.0})["tiles"] == 0.0


def test_a_stalled_counter_decays_to_zero_over_the_window() -> None:
    rates = MovingRates(window_s=5.0)
    for second in range(6):
        rates.sample(float(second), {"lines": 50.0 * second})
    for second in range(6, 12):  # nothing more arrives
        rates.sample(float(second), {"lines": 250.0})
    assert rates.per_second(11.0, {"lines": 250.0})["lines"] == 0.0


def test_bursty_inference_reads_as_its_mean_rate_with_the_latency_of_the_window() -> None:
    clock = Clock()
    figures = FiguresRecorder(mm_per_line=0.1, rate_window_s=10.0, clock=clock)
    figures.first_block()
    for second in range(1, 31):
        clock.now += 1.0
        if second % 5 == 0:  # a batch of 60 tiles every 5 s, one row finished with it
            figures.stages["inference"].tiles += 60
            figures.stages["assembly"].lines += 640
            figures.latency(2.0 if second < 20 else 4.0)
        snapshot = figures.snapshot(
            queues=(),
            metres_seen=0.0,
            metres_inspected=0.0,
            metres_uninspected=0.0,
            source_dropped_blocks=0,
        )
    # Between batches the old one-second interval read 0 tiles/s; the window reads the mean.
    assert snapshot.tiles_per_s == pytest.approx(12.0)
    assert snapshot.lines_per_s == pytest.approx(128.0)
    assert snapshot.latency_s == pytest.approx(4.0)  # rows finished in the last 10 s
    assert snapshot.max_latency_s == 4.0 and snapshot.rate_window_s == 10.0
    clock.now += 3.0  # no row finished since: the last row's latency, not 0
    later = figures.snapshot(
        queues=(), metres_seen=0, metres_inspected=0, metres_uninspected=0, source_dropped_blocks=0
    )
    assert later.latency_s == pytest.approx(4.0) and later.tiles_per_s > 0

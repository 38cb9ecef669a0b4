"""The drain at stop: a wait that scales with the backlog, follows progress, stops at the bound."""

from __future__ import annotations

import pytest

from station.pipeline.drain import Backlog, drain_time_s, wait_for_drain


def test_the_wait_scales_with_the_backlog_within_the_bound() -> None:
    def wait(tiles: float, rate: float) -> float:
        return drain_time_s(tiles, rate, margin=2.0, min_s=1.0, max_s=60.0)

    assert wait(100, 50) == pytest.approx(1.0 + 2.0 * 2.0)
    assert wait(200, 50) == pytest.approx(1.0 + 2.0 * 4.0)
    assert wait(10_000, 50) == 60.0  # the bound
    assert wait(100, 0.0) == 60.0  # no measured rate yet: the bound
    assert wait(0, 50) == 1.0


class FakeTime:
    """A clock that advances only when the drain waits."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _run(rows_done_per_s: float, total_rows: int, *, max_s: float) -> tuple[bool, float]:
    clock = FakeTime()
    done = {"rows": 0.0}

    def finished(timeout_s: float) -> bool:
        clock.now += timeout_s
        done["rows"] = min(total_rows, done["rows"] + rows_done_per_s * timeout_s)
        return done["rows"] >= total_rows

    def backlog() -> Backlog:
        return Backlog(rows=total_rows - done["rows"], tiles_per_row=4, done_rows=int(done["rows"]))

    return wait_for_drain(
        finished, backlog, lambda: 40.0, margin=1.5, min_s=0.5, max_s=max_s, clock=clock
    )


def test_a_backlog_that_drains_at_the_measured_rate_finishes() -> None:
    done, waited = _run(10.0, 50, max_s=120.0)  # 200 tiles at 40 tiles/s: 5 s
    assert done and waited == pytest.approx(5.0, abs=0.3)


def test_slower_than_measured_but_progressing_gets_more_time_up_to_the_bound() -> None:
    done, waited = _run(2.0, 50, max_s=120.0)  # 5x slower than the estimate: 25 s
    assert done and waited == pytest.approx(25.0, abs=0.5)
    done, waited = _run(0.2, 50, max_s=60.0)  # would need 250 s
    assert not done and waited == pytest.approx(60.0, abs=0.3)


def test_no_progress_gives_up_at_the_first_estimate() -> None:
    done, waited = _run(0.0, 50, max_s=120.0)
    assert not done and waited == pytest.approx(0.5 + 1.5 * 200 / 40.0, abs=0.3)

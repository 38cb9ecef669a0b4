"""How long stopping waits for acquired lines to be inspected.

On stop the source stops, but the lines it already delivered (its queue, the
assembly buffer, the stage queues) are still inspected. The wait scales with
that backlog: ``drain_min_s + drain_margin x queued tiles / measured tiles/s``,
at most ``pipeline.drain_timeout_s``. While the backlog shrinks the deadline
moves on with the new estimate (never past the bound); a pipeline that makes no
progress is given up on at its first estimate. What is still queued then is
discarded, and its lines are recorded as an uninspected stretch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Backlog:
    """Acquired work not yet inspected.

    Attributes:
        rows: Tile rows still to score (queued, or made from lines not yet cut into rows).
        tiles_per_row: Mean tiles per row so far.
        done_rows: Rows finished so far (progress is seen as this grows).
    """

    rows: float
    tiles_per_row: float
    done_rows: int

    @property
    def tiles(self) -> float:
        """Tiles still to score."""
        return self.rows * self.tiles_per_row


def drain_time_s(
    backlog_tiles: float, tiles_per_s: float, *, margin: float, min_s: float, max_s: float
) -> float:
    """Seconds to wait for ``backlog_tiles`` at ``tiles_per_s``, with a margin, within the bound.

    Args:
        backlog_tiles: Tiles still to score.
        tiles_per_s: The measured inference rate (0 or less: unknown, the bound is used).
        margin: Multiplies the estimate (>= 1).
        min_s: Added to the estimate (the last rows and closing the roll).
        max_s: Upper bound.
    """
    if backlog_tiles <= 0:
        return min(min_s, max_s)
    if not tiles_per_s > 0 or not math.isfinite(tiles_per_s):
        return max_s
    return min(max_s, min_s + margin * backlog_tiles / tiles_per_s)


def wait_for_drain(
    finished: Callable[[float], bool],
    backlog: Callable[[], Backlog],
    tiles_per_s: Callable[[], float],
    *,
    margin: float,
    min_s: float,
    max_s: float,
    poll_s: float = 0.25,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[bool, float]:
    """Wait until ``finished`` (given a timeout) says the work is done, or the deadline passes.

    Returns:
        (done, seconds waited).
    """
    started = clock()
    bound = started + max_s
    first = backlog()
    deadline = started + drain_time_s(
        first.tiles, tiles_per_s(), margin=margin, min_s=min_s, max_s=max_s
    )
    done_rows = first.done_rows
    while True:
        now = clock()
        remaining = min(deadline, bound) - now
        if remaining <= 0:
            return False, now - started
        if finished(min(poll_s, remaining)):
            return True, clock() - started
        current = backlog()
        if current.done_rows > done_rows:  # progress: give the rest its own estimate
            done_rows = current.done_rows
            estimate = drain_time_s(
                current.tiles, tiles_per_s(), margin=margin, min_s=min_s, max_s=max_s
            )
            deadline = max(deadline, clock() + estimate)

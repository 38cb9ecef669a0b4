"""Web-edge detection: which columns of the camera line see fabric.

The camera is usually wider than the fabric; beyond the web's edges it sees
the machine background. The rule for what is background is
:func:`training.data.tiling.background_mask` (flat near-white or flat
near-black pixels). Training cuts its tiles across the span found here, and
the station tiles the moving web the same way, so the model has seen the
selvedge exactly where the station will show it.
A column is *fabric* when at most ``max_background_fraction`` of its pixels
in the lines looked at are background. Narrow background gaps inside the web
(a white stain, a flat dark fold) are bridged; the web is the longest run of
fabric columns that remains.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class WebSpan:
    """Columns of the camera line that see fabric: ``left <= x < right``."""

    left: int
    right: int

    @property
    def width_px(self) -> int:
        """Fabric width in pixels."""
        return self.right - self.left


def fabric_columns(background: np.ndarray, *, max_background_fraction: float = 0.5) -> np.ndarray:
    """Which columns are fabric.

    Args:
        background: bool [L, W], True on background pixels (from ``background_mask``).
        max_background_fraction: A column with a larger share of background is off the web.

    Returns:
        bool [W].
    """
    if background.ndim != 2 or background.shape[0] == 0:
        raise ValueError(f"background must be a non-empty [L, W] mask, got {background.shape}")
    return background.mean(axis=0) <= max_background_fraction


def _runs(values: np.ndarray) -> list[tuple[int, int]]:
    """Runs of True in a bool vector as (start, end) pairs, end exclusive."""
    padded = np.concatenate(([False], values, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(edges[i]), int(edges[i + 1])) for i in range(0, len(edges), 2)]


def find_web_span(
    background: np.ndarray, *, max_background_fraction: float = 0.5, bridge_gap_px: int = 64
) -> WebSpan | None:
    """The fabric columns of a stretch of lines.

    Args:
        background: bool [L, W] background mask of the lines.
        max_background_fraction: See :func:`fabric_columns`.
        bridge_gap_px: Background gaps between fabric columns up to this wide are taken
            as part of the web.

    Returns:
        The longest run of fabric columns after bridging, or None when no column is fabric.
    """
    fabric = fabric_columns(background, max_background_fraction=max_background_fraction)
    runs = _runs(fabric)
    if not runs:
        return None
    merged = [runs[0]]
    for start, end in runs[1:]:
        if start - merged[-1][1] <= bridge_gap_px:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    left, right = max(merged, key=lambda run: run[1] - run[0])
    return WebSpan(left=left, right=right)

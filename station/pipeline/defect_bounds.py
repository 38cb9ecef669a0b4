"""Where a defect may lie: inside one segment of the web and inside the web's span.

Helpers of :mod:`station.pipeline.extraction`:

* :func:`segment_runs` splits the band's lines into runs of one segment each
  (a replay's image file, or the lines between two gaps), labelled apart;
* :func:`web_span_of_lines` and :func:`keep_inside_web` hold the invariant that
  a defect lies inside the web span of its lines (the union of the spans the
  tile rows over those lines found). Stitching scores only columns that tiles
  cover and tiles never leave the span, so a violation is a bug: it is logged
  as one ERROR line and the defect clipped to the web, never recorded as it is;
* :func:`crop_window` places a defect's image window inside its segment.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Box:
    """A component's bounding box in band coordinates (ends exclusive: ``x + w``, ``y + h``)."""

    x: int
    y: int
    w: int
    h: int


def segment_runs(segment: np.ndarray) -> list[tuple[int, int]]:
    """Runs of equal segment index: ``[(lo, hi), ...]`` covering ``0 .. len(segment)``.

    Args:
        segment: int [L], the segment of every line (-1 for lines no row delivered).
    """
    if len(segment) == 0:
        return []
    cuts = np.flatnonzero(segment[1:] != segment[:-1]) + 1
    bounds = [0, *cuts.tolist(), len(segment)]
    return list(itertools.pairwise(bounds))


def web_span_of_lines(left: np.ndarray, right: np.ndarray) -> tuple[int, int] | None:
    """The web's columns ``[lo, hi)`` over some lines: leftmost left edge, rightmost right edge.

    Args:
        left, right: int [L], the web's edges per line; -1 where none was found.

    Returns:
        ``(lo, hi)``, or None when no line has a web.
    """
    known = left >= 0
    if not known.any():
        return None
    return int(left[known].min()), int(right[known].max())


def keep_inside_web(
    box: Box, component: np.ndarray, web: tuple[int, int] | None, *, first_line: int
) -> tuple[Box | None, np.ndarray]:
    """The defect's box and pixels clipped to the web; logs an ERROR when clipping was needed.

    Args:
        box: The component's box.
        component: bool [h, w], its pixels inside the box.
        web: ``(lo, hi)`` from :func:`web_span_of_lines`.
        first_line: The box's first line number (for the log line).

    Returns:
        ``(box, component)`` unchanged when the defect lies inside the web; clipped
        when it reaches outside; ``(None, component)`` when nothing of it is on the web.
    """
    where = f"lines {first_line}-{first_line + box.h}, columns {box.x}-{box.x + box.w}"
    if web is None:
        logger.error(
            "defect at %s has no web edge on any of its lines; not recorded "
            "(a bug in stitching or extraction: please report it with this log)",
            where,
        )
        return None, component
    lo, hi = web
    x0, x1 = max(box.x, lo), min(box.x + box.w, hi)
    if x0 == box.x and x1 == box.x + box.w:
        return box, component
    clipped = component[:, x0 - box.x : x1 - box.x] if x1 > x0 else component[:, :0]
    if not clipped.any():
        logger.error(
            "defect at %s lies outside the web (columns %d-%d on its lines); not recorded "
            "(a bug in stitching or extraction: please report it with this log)",
            where,
            lo,
            hi,
        )
        return None, clipped
    logger.error(
        "defect at %s reaches outside the web (columns %d-%d on its lines); clipped to the web "
        "(a bug in stitching or extraction: please report it with this log)",
        where,
        lo,
        hi,
    )
    return Box(x0, box.y, x1 - x0, box.h), clipped


def crop_window(y: int, h: int, margin: int, segment: tuple[int, int]) -> tuple[int, int]:
    """Lines ``[y0, y1)`` of a defect's image: its lines plus ``margin`` each side, in its segment.

    Where the segment's start or end cuts the margin, the window slides the other
    way, so it keeps its height ``h + 2 * margin`` wherever the segment is long enough.

    Args:
        y, h: The defect's first line and line count (band indices).
        margin: Context lines wanted on each side.
        segment: ``(lo, hi)``, the band indices of the defect's segment (end exclusive).
    """
    lo, hi = segment
    height = min(h + 2 * margin, hi - lo)
    y0 = min(max(lo, y - margin), hi - height)
    return y0, y0 + height

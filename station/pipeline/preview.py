"""Display-sized previews of the web for a live view (:class:`WebPreview` events).

The extraction stage hands :class:`PreviewMaker` the lines of the stitched
band that became final (no later tile row changes their scores). The maker
shrinks them at once into display rows, across by ``factor_x`` columns and
along by ``factor_y`` lines, chosen so that a display pixel covers about as
many millimetres along as across: pixels as block means, scores as block
maxima (a small defect stays visible). Only these small rows are kept until
the next event is due (at most ``rate_hz`` a second); the full-resolution web
is never copied. Lines that do not fill a whole block wait for the next call
(at most ``factor_y - 1`` of them).
"""

from __future__ import annotations

import functools
import math
import time
from collections import deque
from collections.abc import Callable

import cv2
import numpy as np

from station.pipeline.events import WebPreview

THRESHOLD_LEVEL = 128
"""Where the detection threshold lies on a preview's uint8 score scale (255 = twice it)."""


def block_reduce(
    pixels: np.ndarray, scores: np.ndarray, *, factor_y: int, factor_x: int
) -> tuple[np.ndarray, np.ndarray]:
    """Shrink whole ``factor_y x factor_x`` blocks: pixel means and score maxima.

    Columns past the last whole block across are left out (fewer than ``factor_x``).
    The means come from OpenCV's area resampling (exactly the block mean for whole
    factors), the maxima from element-wise maxima of strided views: both avoid
    numpy's slow reductions over reshaped axes (a 256 x 4096 block costs ~1 and
    ~5 ms instead of ~9 and ~17 ms on the development VM).

    Args:
        pixels: uint8 [n, W] grey or [n, W, C] colour (shown grey), n a multiple of factor_y.
        scores: float32 [n, W].
        factor_y: Lines per display row.
        factor_x: Columns per display column.

    Returns:
        ``(pixels uint8 [n / factor_y, W // factor_x], scores float32 of the same shape)``.
    """
    rows = pixels.shape[0] // factor_y
    columns = pixels.shape[1] // factor_x
    height, width = rows * factor_y, columns * factor_x
    grey = pixels[:height, :width]
    if grey.ndim == 3:
        grey = np.rint(grey.mean(axis=2)).astype(np.uint8)
    means = cv2.resize(np.ascontiguousarray(grey), (columns, rows), interpolation=cv2.INTER_AREA)
    band = scores[:height, :width]
    along = functools.reduce(np.maximum, (band[k::factor_y] for k in range(factor_y)))
    maxima = functools.reduce(np.maximum, (along[:, k::factor_x] for k in range(factor_x)))
    return means.reshape(rows, columns), np.asarray(maxima, dtype=np.float32)


def score_levels(scores: np.ndarray, *, threshold: float) -> np.ndarray:
    """uint8 levels of scores: 0 at 0, :data:`THRESHOLD_LEVEL` at the threshold, 255 at twice it."""
    scaled = scores * (THRESHOLD_LEVEL / threshold)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


class PreviewMaker:
    """Turns final web lines into rate-limited :class:`WebPreview` events.

    Args:
        mm_per_px: Pixel size across the web.
        mm_per_line: Roll advance per line.
        display_width_px: Most display columns across the whole camera line.
        rate_hz: Most events per second.
        max_rows: Display rows held between events at most (oldest dropped beyond).
        clock: Monotonic seconds (a test passes its own).
    """

    def __init__(
        self,
        *,
        mm_per_px: float,
        mm_per_line: float,
        display_width_px: int = 1024,
        rate_hz: float = 20.0,
        max_rows: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if display_width_px < 1 or rate_hz <= 0 or max_rows < 1:
            raise ValueError("display_width_px, rate_hz and max_rows must be positive")
        self.mm_per_px = mm_per_px
        self.mm_per_line = mm_per_line
        self.display_width_px = display_width_px
        self.interval_s = 1.0 / rate_hz
        self.max_rows = max_rows
        self._clock = clock
        self._last_publish_s: float | None = None
        self.factor_x = 0  # known with the first lines (the camera's width)
        self.factor_y = 0
        self.shown_until = 0  # lines before this were handed in (or skipped)
        self._carry: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._pixels: deque[np.ndarray] = deque()
        self._scores: deque[np.ndarray] = deque()
        self._along: deque[np.ndarray] = deque()
        self._held_rows = 0
        self.rows_dropped = 0

    def factors_for(self, width_px: int) -> tuple[int, int]:
        """``(factor_y, factor_x)`` for a camera line of ``width_px`` pixels."""
        factor_x = max(1, math.ceil(width_px / self.display_width_px))
        factor_y = max(1, round(factor_x * self.mm_per_px / self.mm_per_line))
        return factor_y, factor_x

    def add(
        self,
        *,
        first_line: int,
        pixels: np.ndarray,
        scores: np.ndarray,
        along_mm: np.ndarray,
        threshold: float,
    ) -> None:
        """Take final lines ``[first_line, first_line + n)`` (views are fine: nothing is kept).

        Lines before :attr:`shown_until` are ignored; a gap before ``first_line``
        (lines lost upstream) drops the partial block waiting from before it.

        Args:
            first_line: Line number of the first line given.
            pixels: uint8 [n, W] or [n, W, C].
            scores: float32 [n, W], stitched scores.
            along_mm: float64 [n], line positions.
            threshold: The detection threshold in use now.
        """
        skip = max(0, self.shown_until - first_line)
        if skip >= len(pixels):
            return
        if first_line + skip > self.shown_until:
            self._carry = None  # lines were lost: a block never spans the gap
        pixels, scores, along_mm = pixels[skip:], scores[skip:], along_mm[skip:]
        self.shown_until = first_line + skip + len(pixels)
        if not self.factor_x:
            self.factor_y, self.factor_x = self.factors_for(pixels.shape[1])
        if self._carry is not None:
            carried_pixels, carried_scores, carried_along = self._carry
            pixels = np.concatenate([carried_pixels, pixels])
            scores = np.concatenate([carried_scores, scores])
            along_mm = np.concatenate([carried_along, along_mm])
            self._carry = None
        whole = len(pixels) // self.factor_y * self.factor_y
        if whole < len(pixels):
            self._carry = (pixels[whole:].copy(), scores[whole:].copy(), along_mm[whole:].copy())
        if whole == 0:
            return
        small_pixels, small_scores = block_reduce(
            pixels[:whole], scores[:whole], factor_y=self.factor_y, factor_x=self.factor_x
        )
        self._pixels.append(small_pixels)
        self._scores.append(score_levels(small_scores, threshold=threshold))
        self._along.append(np.asarray(along_mm[: whole : self.factor_y], dtype=np.float64))
        self._held_rows += len(small_pixels)
        while self._held_rows > self.max_rows and len(self._pixels) > 1:
            self._held_rows -= len(self._pixels[0])
            self.rows_dropped += len(self._pixels[0])
            for held in (self._pixels, self._scores, self._along):
                held.popleft()

    def take(self, *, force: bool = False) -> WebPreview | None:
        """The preview of the rows held, when one is due (or ``force``), else None."""
        if not self._pixels:
            return None
        now = self._clock()
        if (
            not force
            and self._last_publish_s is not None
            and now - self._last_publish_s < self.interval_s
        ):
            return None
        self._last_publish_s = now
        preview = WebPreview(
            pixels=np.concatenate(self._pixels),
            scores=np.concatenate(self._scores),
            along_mm=np.concatenate(self._along),
            mm_per_px=self.factor_x * self.mm_per_px,
            mm_per_row=self.factor_y * self.mm_per_line,
            threshold_level=THRESHOLD_LEVEL,
        )
        for held in (self._pixels, self._scores, self._along):
            held.clear()
        self._held_rows = 0
        return preview

"""The live waterfall: the newest metres of the web scrolling by, with the anomaly overlay.

Display rows from :class:`~station.pipeline.events.WebPreview` events go into
a ring buffer twice as tall as the view, written at ``i`` and ``i + rows``,
so the visible part is always one contiguous slice (no ``np.roll`` per
frame). Two :class:`pyqtgraph.ImageItem` show it with fixed levels and uint8
lookup tables: the grey web, and on top the scores as a semi-transparent heat
overlay (transparent below half the threshold). The newest row is at the top;
x is mm across the camera line, y is mm along the roll back from the newest row.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QRectF, QSize
from PyQt6.QtGui import QColor, QPen
from PyQt6.QtWidgets import QGraphicsRectItem

from station.pipeline.events import WebPreview

pg.setConfigOptions(useOpenGL=False, imageAxisOrder="row-major", antialias=False)

GREY_LUT = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)


def heat_lut(threshold_level: int = 128) -> np.ndarray:
    """uint8 [256, 4] RGBA: dark red to yellow, transparent below half the threshold."""
    levels = np.arange(256, dtype=np.float32)
    colours = pg.colormap.get("inferno").getLookupTable(0.35, 1.0, 256, alpha=False)
    alpha = np.clip((levels - threshold_level / 2) / (threshold_level / 2), 0.0, 1.0) * 255
    return np.column_stack([colours, alpha]).astype(np.uint8)


@dataclass(frozen=True)
class MarkedDefect:
    """A defect to box on the waterfall (positions in mm, from its event)."""

    along_mm: float
    length_mm: float
    across_mm: float
    width_mm: float
    label: str


class WaterfallWidget(pg.GraphicsLayoutWidget):
    """Scrolling view of the web with a switchable heat overlay and defect boxes.

    Args:
        rows: Display rows shown (newest at the top).
        max_boxes: Defect boxes drawn at most (the newest).
    """

    def __init__(self, *, rows: int = 600, max_boxes: int = 40) -> None:
        super().__init__()
        self.rows = rows
        self.setBackground("#202020")
        self.plot = self.addPlot()
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.setLabel("bottom", "across the web (mm)")
        self.plot.setLabel("left", "back from the newest line (mm)")
        self.plot.invertY(True)
        self.web_image = pg.ImageItem(levels=(0, 255), lut=GREY_LUT, autoDownsample=False)
        self.heat_image = pg.ImageItem(levels=(0, 255), lut=heat_lut(), autoDownsample=False)
        self.heat_image.setOpacity(0.6)
        self.plot.addItem(self.web_image)
        self.plot.addItem(self.heat_image)
        self._pixels: np.ndarray | None = None
        self._scores: np.ndarray | None = None
        self._along: np.ndarray | None = None
        self._written = 0
        self.mm_per_px = 1.0
        self.mm_per_row = 1.0
        self._threshold_level = 128
        self._rect = QRectF(0.0, 0.0, 1.0, 1.0)
        self._rect_pending = False
        self._defects: deque[MarkedDefect] = deque(maxlen=200)
        self._boxes: list[tuple[QGraphicsRectItem, pg.TextItem]] = []
        self.max_boxes = max_boxes

    # -- what the window calls ---------------------------------------------------------

    @property
    def rows_written(self) -> int:
        """Display rows received since the last :meth:`clear_roll`."""
        return self._written

    @property
    def newest_along_mm(self) -> float | None:
        """Roll position of the newest row shown."""
        if self._along is None or self._written == 0:
            return None
        return float(self._along[self._slice_start() + self.rows - 1])

    def clear_roll(self) -> None:
        """Forget every row and box (a new roll)."""
        self._pixels = self._scores = self._along = None
        self._written = 0
        self._defects.clear()
        self.web_image.clear()
        self.heat_image.clear()
        self._place_boxes(None)

    def set_overlay(self, *, visible: bool, opacity: float) -> None:
        """Show or hide the heat overlay; ``opacity`` from 0 to 1."""
        self.heat_image.setVisible(visible)
        self.heat_image.setOpacity(min(1.0, max(0.0, opacity)))

    def mark_defect(self, defect: MarkedDefect) -> None:
        """Box a logged defect (drawn while its rows are in view)."""
        self._defects.append(defect)

    def add_previews(self, previews: list[WebPreview]) -> None:
        """Write the previews' rows into the ring and redraw."""
        if not previews:
            return
        for preview in previews:
            self._write(preview)
        start = self._slice_start()
        end = start + self.rows
        assert self._pixels is not None and self._scores is not None and self._along is not None
        # Newest row first (top): the ring's slice reversed is still a view, no copy.
        self.web_image.setImage(self._pixels[start:end][::-1], autoLevels=False)
        self.heat_image.setImage(self._scores[start:end][::-1], autoLevels=False)
        if self._rect_pending:
            self.web_image.setRect(self._rect)
            self.heat_image.setRect(self._rect)
            self._rect_pending = False
        self._place_boxes(self._along[start:end])

    # -- internals -------------------------------------------------------------------

    def _slice_start(self) -> int:
        return self._written % self.rows

    def _allocate(self, preview: WebPreview) -> None:
        width = preview.pixels.shape[1]
        self._pixels = np.zeros((2 * self.rows, width), np.uint8)
        self._scores = np.zeros((2 * self.rows, width), np.uint8)
        self._along = np.full(2 * self.rows, np.nan)
        self._written = 0
        self.mm_per_px = preview.mm_per_px
        self.mm_per_row = preview.mm_per_row
        self._rect = QRectF(0.0, 0.0, width * self.mm_per_px, self.rows * self.mm_per_row)
        self._rect_pending = True  # an ImageItem takes its rectangle once it has an image
        self.plot.setRange(rect=self._rect, padding=0.0)
        if preview.threshold_level != self._threshold_level:
            self._threshold_level = preview.threshold_level
            self.heat_image.setLookupTable(heat_lut(preview.threshold_level))

    def _write(self, preview: WebPreview) -> None:
        if (
            self._pixels is None
            or self._pixels.shape[1] != preview.pixels.shape[1]
            or preview.mm_per_row != self.mm_per_row
        ):
            self._allocate(preview)
        assert self._pixels is not None and self._scores is not None and self._along is not None
        pixels, scores, along = preview.pixels, preview.scores, preview.along_mm
        if len(pixels) > self.rows:
            pixels, scores, along = pixels[-self.rows :], scores[-self.rows :], along[-self.rows :]
        slots = (self._written + np.arange(len(pixels))) % self.rows
        for ring, values in ((self._pixels, pixels), (self._scores, scores), (self._along, along)):
            ring[slots] = values
            ring[slots + self.rows] = values
        self._written += len(pixels)

    def _place_boxes(self, along: np.ndarray | None) -> None:
        shown: list[tuple[MarkedDefect, float]] = []
        if along is not None and self._written:
            newest = along[-1]
            oldest = newest - self.rows * self.mm_per_row
            for defect in reversed(self._defects):
                top = defect.along_mm + defect.length_mm / 2
                if defect.along_mm - defect.length_mm / 2 <= newest and top >= oldest:
                    shown.append((defect, float(newest - top)))
                if len(shown) >= self.max_boxes:
                    break
        while len(self._boxes) < len(shown):
            box = QGraphicsRectItem()
            pen = QPen(QColor("#00e5ff"))
            pen.setCosmetic(True)
            pen.setWidth(2)
            box.setPen(pen)
            label = pg.TextItem(color="#00e5ff", anchor=(0, 1), fill=pg.mkBrush(0, 0, 0, 150))
            self.plot.addItem(box)
            self.plot.addItem(label)
            self._boxes.append((box, label))
        for index, (box, label) in enumerate(self._boxes):
            if index >= len(shown):
                box.setVisible(False)
                label.setVisible(False)
                continue
            defect, y = shown[index]
            x = defect.across_mm - defect.width_mm / 2
            box.setRect(QRectF(x, y, max(defect.width_mm, 1.0), max(defect.length_mm, 1.0)))
            label.setText(defect.label)
            label.setPos(x, y)
            box.setVisible(True)
            label.setVisible(True)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        """A tall view by default."""
        size = super().sizeHint()
        size.setHeight(max(size.height(), 420))
        return size

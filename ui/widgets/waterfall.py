"""The live waterfall: the newest metres of the web scrolling by, with the anomaly overlay.

Display rows from :class:`~station.pipeline.events.WebPreview` events go into
a ring buffer twice as tall as the view, written at ``i`` and ``i + rows``,
so the visible part is always one contiguous slice (no ``np.roll`` per
frame). Each new row is coloured once, as it arrives, through a uint8 lookup
table indexed by (grey level, score level): the grey web with the scores as a
semi-transparent heat overlay (transparent below 60 % of the threshold). One
:class:`pyqtgraph.ImageItem` shows the RGBA slice with fixed levels, so a
frame costs one image upload and no per-frame colour mapping; switching the
overlay or moving its opacity recolours the ring once. The newest row is at
the top; x is mm across the camera line, y is mm along the roll relative to
the newest line (0 at the top, older fabric below).
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


def heat_lut(threshold_level: int = 128) -> np.ndarray:
    """uint8 [256, 4] RGBA: dark red to yellow, transparent below 60 % of the threshold."""
    levels = np.arange(256, dtype=np.float32)
    colours = pg.colormap.get("inferno").getLookupTable(0.35, 1.0, 256, alpha=False)
    # Transparent up to 60 % of the threshold, opaque from the threshold on.
    low = 0.6 * threshold_level
    alpha = np.clip((levels - low) / (threshold_level - low), 0.0, 1.0) * 255
    return np.column_stack([colours, alpha]).astype(np.uint8)


def blend_lut(*, opacity: float, threshold_level: int = 128) -> np.ndarray:
    """uint8 [256, 256, 4]: the RGBA colour of (grey level, score level) with the overlay.

    Args:
        opacity: The overlay's strength, 0 (grey web only) to 1.
        threshold_level: Where the threshold lies on the score scale.
    """
    heat = heat_lut(threshold_level).astype(np.float32)
    weight = heat[:, 3] / 255.0 * min(1.0, max(0.0, opacity))  # per score level
    grey = np.arange(256, dtype=np.float32)[:, None, None]
    colour = grey * (1.0 - weight[None, :, None]) + heat[None, :, :3] * weight[None, :, None]
    table = np.empty((256, 256, 4), np.uint8)
    table[..., :3] = np.rint(colour)
    table[..., 3] = 255
    return table


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
        max_labels: Of those, the newest that get a label.
    """

    def __init__(self, *, rows: int = 600, max_boxes: int = 40, max_labels: int = 8) -> None:
        super().__init__()
        self.rows = rows
        self.setBackground("#202020")
        self.plot = self.addPlot()
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.setLabel("bottom", "across the web (mm)")
        self.plot.setLabel("left", "along the roll, from the newest line (mm)")
        self.web_image = pg.ImageItem(autoDownsample=False)
        self.plot.addItem(self.web_image)
        self._pixels: np.ndarray | None = None
        self._scores: np.ndarray | None = None
        self._rgba: np.ndarray | None = None
        self.overlay_visible = True
        self.overlay_opacity = 0.6
        self._blend = blend_lut(opacity=self.overlay_opacity)
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
        self.max_labels = max_labels

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
        self._pixels = self._scores = self._rgba = self._along = None
        self._written = 0
        self._defects.clear()
        self.web_image.clear()
        self._place_boxes(None)

    def set_overlay(self, *, visible: bool, opacity: float) -> None:
        """Show or hide the heat overlay; ``opacity`` from 0 to 1 (recolours the ring once)."""
        self.overlay_visible = visible
        self.overlay_opacity = min(1.0, max(0.0, opacity))
        self._blend = blend_lut(
            opacity=self.overlay_opacity if visible else 0.0,
            threshold_level=self._threshold_level,
        )
        if self._rgba is not None and self._pixels is not None and self._scores is not None:
            self._rgba[:] = self._blend[self._pixels, self._scores]
            self._show()

    def mark_defect(self, defect: MarkedDefect) -> None:
        """Box a logged defect (drawn while its rows are in view)."""
        self._defects.append(defect)

    def add_previews(self, previews: list[WebPreview]) -> None:
        """Write the previews' rows into the ring and redraw."""
        if not previews:
            return
        for preview in previews:
            self._write(preview)
        self._show()

    # -- internals -------------------------------------------------------------------

    def _show(self) -> None:
        """Hand the visible slice (oldest row first, a view of the ring) to the image."""
        assert self._rgba is not None and self._along is not None
        start = self._slice_start()
        self.web_image.setImage(self._rgba[start : start + self.rows], levels=None)
        if self._rect_pending:
            self.web_image.setRect(self._rect)
            self._rect_pending = False
        self._place_boxes(self._along[start : start + self.rows])

    def _slice_start(self) -> int:
        return self._written % self.rows

    def _allocate(self, preview: WebPreview) -> None:
        width = preview.pixels.shape[1]
        self._pixels = np.zeros((2 * self.rows, width), np.uint8)
        self._scores = np.zeros((2 * self.rows, width), np.uint8)
        self._rgba = np.zeros((2 * self.rows, width, 4), np.uint8)
        self._along = np.full(2 * self.rows, np.nan)
        self._written = 0
        self.mm_per_px = preview.mm_per_px
        self.mm_per_row = preview.mm_per_row
        height_mm = self.rows * self.mm_per_row
        self._rect = QRectF(0.0, -height_mm, width * self.mm_per_px, height_mm)
        self._rect_pending = True  # an ImageItem takes its rectangle once it has an image
        self.plot.setRange(rect=self._rect, padding=0.0)
        if preview.threshold_level != self._threshold_level:
            self._threshold_level = preview.threshold_level
            self.set_overlay(visible=self.overlay_visible, opacity=self.overlay_opacity)

    def _write(self, preview: WebPreview) -> None:
        if (
            self._pixels is None
            or self._pixels.shape[1] != preview.pixels.shape[1]
            or preview.mm_per_row != self.mm_per_row
        ):
            self._allocate(preview)
        assert self._pixels is not None and self._scores is not None
        assert self._rgba is not None and self._along is not None
        pixels, scores, along = preview.pixels, preview.scores, preview.along_mm
        if len(pixels) > self.rows:
            pixels, scores, along = pixels[-self.rows :], scores[-self.rows :], along[-self.rows :]
        slots = (self._written + np.arange(len(pixels))) % self.rows
        coloured = self._blend[pixels, scores]  # the uint8 lookup, once per new row
        for ring, values in (
            (self._pixels, pixels),
            (self._scores, scores),
            (self._rgba, coloured),
            (self._along, along),
        ):
            ring[slots] = values
            ring[slots + self.rows] = values
        self._written += len(pixels)

    def _place_boxes(self, along: np.ndarray | None) -> None:
        shown: list[tuple[MarkedDefect, float]] = []
        if along is not None and self._written:
            newest = along[-1]
            oldest = newest - self.rows * self.mm_per_row
            for defect in reversed(self._defects):
                bottom = defect.along_mm - defect.length_mm / 2
                if bottom <= newest and defect.along_mm + defect.length_mm / 2 >= oldest:
                    shown.append((defect, float(bottom - newest)))
                if len(shown) >= self.max_boxes:
                    break
        while len(self._boxes) < len(shown):
            box = QGraphicsRectItem()
            pen = QPen(QColor("#00e5ff"))
            pen.setCosmetic(True)
            pen.setWidth(2)
            box.setPen(pen)
            label = pg.TextItem(color="#00e5ff", anchor=(0, 1), fill=pg.mkBrush(0, 0, 0, 150))
            box.setZValue(10)
            label.setZValue(11)
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
            height = max(defect.length_mm, 1.0)
            box.setRect(QRectF(x, y, max(defect.width_mm, 1.0), height))
            label.setText(defect.label)
            label.setPos(x, y + height)
            box.setVisible(True)
            label.setVisible(index < self.max_labels)  # the newest; more would overlap

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        """A tall view by default."""
        size = super().sizeHint()
        size.setHeight(max(size.height(), 420))
        return size

"""The whole roll as one horizontal strip: defects as marks, uninspected stretches shaded.

The strip's horizontal axis runs along the roll (start at the left), its
vertical axis across the web (left edge at the top). Marks are coloured by
their 4-point-system points; false alarms are drawn hollow and grey so the eye
skips them; uninspected stretches are hatched across the full width.

Usage::

    roll_map = RollMapWidget()
    roll_map.set_roll(length_mm=25_000.0, width_mm=1600.0)
    roll_map.set_defects([RollMark(key=k, along_mm=1200.0, across_mm=400.0, points=3)])
    roll_map.add_defect(RollMark(...))          # one more (the operator's live view)
    roll_map.set_uninspected([(5_000.0, 5_400.0)])
    roll_map.set_selected(k)                    # ring around one mark
    roll_map.mark_clicked.connect(lambda key: ...)

Nothing here reads the database; callers hand in plain values.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

from PyQt6.QtCore import QPointF, QRectF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QBrush, QColor, QMouseEvent, QPainter, QPaintEvent, QPen
from PyQt6.QtWidgets import QSizePolicy, QWidget

# 1..4 points: from a light yellow-green to red, readable on the pale strip.
POINT_COLOURS = {
    0: QColor("#9e9e9e"),
    1: QColor("#7cb342"),
    2: QColor("#fbc02d"),
    3: QColor("#fb8c00"),
    4: QColor("#e53935"),
}
REJECTED_COLOUR = QColor("#8a8a8a")
STRIP_COLOUR = QColor("#f4f1ea")
UNINSPECTED_COLOUR = QColor(90, 90, 90, 90)
MIN_MARK_PX = 9.0
CLICK_SLACK_PX = 4.0
_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_TOP, _RULER_PX = 8.0, 8.0, 6.0, 20.0


@dataclass(frozen=True, slots=True)
class RollMark:
    """One defect on the roll map.

    Attributes:
        key: What :attr:`RollMapWidget.mark_clicked` sends back (e.g. the defect's key).
        along_mm: Centre along the roll, from its start.
        across_mm: Centre across the web, from its left edge.
        points: 4-point-system points (0..4) that choose the colour.
        length_mm: Extent along the roll (marks are never drawn smaller than a dot).
        width_mm: Extent across the roll.
        rejected: A false alarm: drawn hollow and grey.
    """

    key: Hashable
    along_mm: float
    across_mm: float
    points: int
    length_mm: float = 0.0
    width_mm: float = 0.0
    rejected: bool = False


class RollMapWidget(QWidget):
    """The roll as a strip with its defects (see the module docstring for the API).

    Signals:
        mark_clicked(object): the key of the mark under a left click.
    """

    mark_clicked = pyqtSignal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._length_mm = 1000.0
        self._width_mm = 1000.0
        self._marks: dict[Hashable, RollMark] = {}
        self._uninspected: list[tuple[float, float]] = []
        self._selected: Hashable | None = None
        self.setMinimumHeight(70)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMouseTracking(True)
        self.setToolTip("Roll map: click a mark to show that defect")

    # -- API -------------------------------------------------------------------------------
    def set_roll(self, *, length_mm: float, width_mm: float) -> None:
        """The roll's length (inspected so far) and web width, in mm (both at least 1 mm)."""
        self._length_mm = max(1.0, float(length_mm))
        self._width_mm = max(1.0, float(width_mm))
        self.update()

    def set_defects(self, marks: Iterable[RollMark]) -> None:
        """Replace every mark."""
        self._marks = {mark.key: mark for mark in marks}
        self.update()

    def add_defect(self, mark: RollMark) -> None:
        """Add one mark, or replace the one with the same key."""
        self._marks[mark.key] = mark
        self.update()

    def set_uninspected(self, stretches: Iterable[tuple[float, float]]) -> None:
        """Stretches ``(from_mm, to_mm)`` along the roll that were not inspected."""
        self._uninspected = [(min(a, b), max(a, b)) for a, b in stretches]
        self.update()

    def set_selected(self, key: Hashable | None) -> None:
        """Ring the mark with this key (None: no ring)."""
        self._selected = key
        self.update()

    def marks(self) -> Sequence[RollMark]:
        """The marks shown, in the order they were added."""
        return tuple(self._marks.values())

    def uninspected(self) -> Sequence[tuple[float, float]]:
        return tuple(self._uninspected)

    def roll_size_mm(self) -> tuple[float, float]:
        """``(length_mm, width_mm)`` the strip is drawn for."""
        return self._length_mm, self._width_mm

    def mark_position(self, key: Hashable) -> QPointF:
        """Where a mark's centre is drawn, in widget pixels (for tests and tooltips).

        Raises:
            KeyError: no mark has this key.
        """
        return self._mark_rect(self._marks[key]).center()

    def mark_at(self, point: QPointF) -> Hashable | None:
        """The key of the topmost mark under ``point`` (None if none)."""
        for mark in reversed(list(self._marks.values())):
            rect = self._mark_rect(mark).adjusted(
                -CLICK_SLACK_PX, -CLICK_SLACK_PX, CLICK_SLACK_PX, CLICK_SLACK_PX
            )
            if rect.contains(point):
                return mark.key
        return None

    # -- geometry --------------------------------------------------------------------------
    def _strip_rect(self) -> QRectF:
        return QRectF(
            _MARGIN_LEFT,
            _MARGIN_TOP,
            max(1.0, self.width() - _MARGIN_LEFT - _MARGIN_RIGHT),
            max(1.0, self.height() - _MARGIN_TOP - _RULER_PX),
        )

    def _x(self, along_mm: float, strip: QRectF) -> float:
        return strip.left() + strip.width() * min(max(along_mm / self._length_mm, 0.0), 1.0)

    def _y(self, across_mm: float, strip: QRectF) -> float:
        return strip.top() + strip.height() * min(max(across_mm / self._width_mm, 0.0), 1.0)

    def _mark_rect(self, mark: RollMark) -> QRectF:
        strip = self._strip_rect()
        width = max(MIN_MARK_PX, strip.width() * mark.length_mm / self._length_mm)
        height = max(MIN_MARK_PX, strip.height() * mark.width_mm / self._width_mm)
        centre = QPointF(self._x(mark.along_mm, strip), self._y(mark.across_mm, strip))
        return QRectF(centre.x() - width / 2, centre.y() - height / 2, width, height)

    # -- Qt --------------------------------------------------------------------------------
    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(600, 110)

    def mousePressEvent(self, event: QMouseEvent | None) -> None:  # noqa: N802 - Qt's name
        if event is None:
            return
        if event.button() == Qt.MouseButton.LeftButton:
            key = self.mark_at(event.position())
            if key is not None:
                self.mark_clicked.emit(key)
                return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent | None) -> None:  # noqa: N802 - Qt's name
        if event is None:
            return
        key = self.mark_at(event.position())
        cursor = (
            Qt.CursorShape.PointingHandCursor if key is not None else Qt.CursorShape.ArrowCursor
        )
        self.setCursor(cursor)
        super().mouseMoveEvent(event)

    def paintEvent(self, event: QPaintEvent | None) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            strip = self._strip_rect()
            painter.fillRect(strip, STRIP_COLOUR)
            self._paint_uninspected(painter, strip)
            self._paint_marks(painter)
            painter.setPen(QPen(QColor("#555555"), 1))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(strip)
            self._paint_ruler(painter, strip)
        finally:
            painter.end()

    def _paint_uninspected(self, painter: QPainter, strip: QRectF) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        for start, end in self._uninspected:
            left, right = self._x(start, strip), self._x(end, strip)
            band = QRectF(left, strip.top(), max(2.0, right - left), strip.height())
            painter.fillRect(band, UNINSPECTED_COLOUR)
            painter.fillRect(band, QBrush(QColor(60, 60, 60, 140), Qt.BrushStyle.BDiagPattern))

    def _paint_marks(self, painter: QPainter) -> None:
        ordered = sorted(self._marks.values(), key=lambda m: (not m.rejected, m.points))
        for mark in ordered:  # false alarms first, so real defects are drawn on top
            rect = self._mark_rect(mark)
            if mark.rejected:
                painter.setPen(QPen(REJECTED_COLOUR, 1.5))
                painter.setBrush(Qt.BrushStyle.NoBrush)
            else:
                colour = POINT_COLOURS.get(min(max(mark.points, 0), 4), POINT_COLOURS[4])
                painter.setPen(QPen(colour.darker(150), 1))
                painter.setBrush(colour)
            painter.drawEllipse(rect)
        if self._selected in self._marks:
            rect = self._mark_rect(self._marks[self._selected]).adjusted(-4, -4, 4, 4)
            painter.setPen(QPen(QColor("#1565c0"), 2.5))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawEllipse(rect)

    def _paint_ruler(self, painter: QPainter, strip: QRectF) -> None:
        painter.setPen(QPen(QColor("#333333"), 1))
        metres = self._length_mm / 1000.0
        step = _ruler_step_m(metres, max(1.0, strip.width() / 70.0))
        tick = 0.0
        metrics = painter.fontMetrics()
        while tick <= metres + 1e-9:
            x = self._x(tick * 1000.0, strip)
            painter.drawLine(QPointF(x, strip.bottom()), QPointF(x, strip.bottom() + 4))
            label = f"{tick:g} m"
            left = min(max(x - metrics.horizontalAdvance(label) / 2, 0.0), self.width() - 40.0)
            painter.drawText(QPointF(left, strip.bottom() + 5 + metrics.ascent()), label)
            tick += step


def _ruler_step_m(length_m: float, max_ticks: float) -> float:
    """A round tick spacing (1, 2 or 5 x 10^k m) giving at most ``max_ticks`` ticks."""
    for exponent in range(-2, 7):
        for base in (1.0, 2.0, 5.0):
            step = base * 10.0**exponent
            if length_m / step <= max_ticks:
                return step
    return 10.0**7

"""The defect gallery of one roll: a sortable table with filters by status, score, size, type.

Each row shows the defect's crop as a thumbnail, its position (mm), size, score,
points, class, type and review status. Up/Down (or J/K in the window) walk the
rows; the window shows the current defect's crop, heatmap and history.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from PyQt6.QtCore import QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QIcon, QImage, QPixmap
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from station.store.errors import ImageStoreError
from station.store.images import ImageStore
from station.store.records import ReviewStatus
from station.store.views import DefectView

ANY = "any"
UNLABELLED = "unlabelled"
STATUS_TEXT = {
    ReviewStatus.UNREVIEWED: "unreviewed",
    ReviewStatus.CONFIRMED: "confirmed",
    ReviewStatus.FALSE_ALARM: "false alarm",
}
STATUS_COLOURS = {
    ReviewStatus.UNREVIEWED: QColor("#ffffff"),
    ReviewStatus.CONFIRMED: QColor("#fde0dc"),
    ReviewStatus.FALSE_ALARM: QColor("#e6e6e6"),
}
COLUMNS = ("crop", "status", "along mm", "across mm", "size mm", "score", "points", "type", "class")
THUMB_PX = 44


class _NumberItem(QTableWidgetItem):
    """A cell that sorts by its number, not its text."""

    def __init__(self, value: float, text: str) -> None:
        super().__init__(text)
        self.setData(Qt.ItemDataRole.UserRole + 1, float(value))

    def __lt__(self, other: QTableWidgetItem) -> bool:
        mine = self.data(Qt.ItemDataRole.UserRole + 1)
        theirs = other.data(Qt.ItemDataRole.UserRole + 1)
        if mine is None or theirs is None:
            return super().__lt__(other)
        return float(mine) < float(theirs)


def _thumbnail(images: ImageStore | None, defect: DefectView) -> QIcon | None:
    if images is None or defect.crop_path is None:
        return None
    try:
        data = images.read(defect.crop_path, expected_sha256=defect.crop_sha256)
    except ImageStoreError:
        return None  # the large view says what is wrong
    image = QImage.fromData(data)
    if image.isNull():
        return None
    return QIcon(QPixmap.fromImage(image))


class DefectGallery(QWidget):
    """Filters above a sortable table of a roll's defects.

    Signals:
        current_changed(object): the key (uuid.UUID) of the defect now current, or None.
    """

    current_changed = pyqtSignal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._defects: dict[uuid.UUID, DefectView] = {}
        self._icons: dict[uuid.UUID, QIcon | None] = {}
        self.images: ImageStore | None = None
        self.status_filter = QComboBox()
        self.status_filter.addItems([ANY, *STATUS_TEXT.values()])
        self.type_filter = QComboBox()
        self.type_filter.addItem(ANY)
        self.min_score = QDoubleSpinBox()
        self.min_score.setRange(0.0, 1000.0)
        self.min_score.setDecimals(3)
        self.min_score.setSingleStep(0.05)
        self.min_size = QDoubleSpinBox()
        self.min_size.setRange(0.0, 100_000.0)
        self.min_size.setSuffix(" mm")
        self.min_size.setSingleStep(5.0)
        filters = QHBoxLayout()
        for label, widget in (
            ("Status", self.status_filter),
            ("Type", self.type_filter),
            ("Score ≥", self.min_score),
            ("Size ≥", self.min_size),
        ):
            filters.addWidget(QLabel(label))
            filters.addWidget(widget)
        filters.addStretch(1)
        self.count_label = QLabel("")
        filters.addWidget(self.count_label)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setIconSize(QSize(THUMB_PX, THUMB_PX))
        self.table.verticalHeader().setDefaultSectionSize(THUMB_PX + 4)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(COLUMNS.index("along mm"), Qt.SortOrder.AscendingOrder)
        self.table.itemSelectionChanged.connect(self._emit_current)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)
        self.status_filter.currentTextChanged.connect(self._refill)
        self.type_filter.currentTextChanged.connect(self._refill)
        self.min_score.valueChanged.connect(self._refill)
        self.min_size.valueChanged.connect(self._refill)

    # -- API -------------------------------------------------------------------------------
    def set_defects(self, defects: Sequence[DefectView], *, keep_current: bool = True) -> None:
        """Show a roll's defects (thumbnails are read once per defect and kept)."""
        current = self.current_key() if keep_current else None
        if not keep_current:
            self._icons.clear()
        self._defects = {d.key: d for d in defects}
        types = sorted({d.defect_type or UNLABELLED for d in defects})
        chosen = self.type_filter.currentText()
        self.type_filter.blockSignals(True)
        self.type_filter.clear()
        self.type_filter.addItems([ANY, *types])
        self.type_filter.setCurrentText(chosen if chosen in types else ANY)
        self.type_filter.blockSignals(False)
        self._refill(current=current)

    def current_key(self) -> uuid.UUID | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return None
        item = self.table.item(rows[0].row(), 0)
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def visible_keys(self) -> list[uuid.UUID]:
        """Keys of the rows shown, in table order."""
        keys = []
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None:
                keys.append(item.data(Qt.ItemDataRole.UserRole))
        return keys

    def select(self, key: uuid.UUID) -> bool:
        """Make the defect with ``key`` current (False when it is filtered out)."""
        for row, visible in enumerate(self.visible_keys()):
            if visible == key:
                self.table.selectRow(row)
                self.table.scrollToItem(self.table.item(row, 0))
                return True
        return False

    def step(self, offset: int) -> None:
        """Move the current row by ``offset`` (next: +1, previous: -1), staying in the table."""
        keys = self.visible_keys()
        if not keys:
            return
        current = self.current_key()
        index = keys.index(current) + offset if current in keys else 0
        self.select(keys[min(max(index, 0), len(keys) - 1)])

    # -- filling ---------------------------------------------------------------------------
    def _passes(self, defect: DefectView) -> bool:
        status = self.status_filter.currentText()
        if status != ANY and STATUS_TEXT[defect.review_status] != status:
            return False
        kind = self.type_filter.currentText()
        if kind not in ("", ANY) and (defect.defect_type or UNLABELLED) != kind:
            return False
        if defect.peak_score < self.min_score.value():
            return False
        return max(defect.length_mm, defect.width_mm) >= self.min_size.value()

    def _refill(self, *_: object, current: uuid.UUID | None = None) -> None:
        current = current if current is not None else self.current_key()
        shown = [d for d in self._defects.values() if self._passes(d)]
        self.table.blockSignals(True)
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(shown))
        for row, defect in enumerate(shown):
            self._fill_row(row, defect)
        self.table.setSortingEnabled(True)
        self.table.blockSignals(False)
        self.count_label.setText(f"{len(shown)} of {len(self._defects)} defects")
        if current is None or not self.select(current):
            self.table.clearSelection()
            self.current_changed.emit(None)

    def _fill_row(self, row: int, defect: DefectView) -> None:
        if defect.key not in self._icons:
            self._icons[defect.key] = _thumbnail(self.images, defect)
        icon = self._icons[defect.key]
        crop = QTableWidgetItem("" if icon is not None else "no image")
        if icon is not None:
            crop.setIcon(icon)
        cells: list[QTableWidgetItem] = [
            crop,
            QTableWidgetItem(STATUS_TEXT[defect.review_status]),
            _NumberItem(defect.along_mm, f"{defect.along_mm:.0f}"),
            _NumberItem(defect.across_mm, f"{defect.across_mm:.0f}"),
            _NumberItem(
                max(defect.length_mm, defect.width_mm),
                f"{defect.length_mm:.0f} x {defect.width_mm:.0f}",
            ),
            _NumberItem(defect.peak_score, f"{defect.peak_score:.3f}"),
            _NumberItem(defect.points, str(defect.points)),
            QTableWidgetItem(defect.defect_type or ""),
            QTableWidgetItem(defect.fabric_class),
        ]
        for column, item in enumerate(cells):
            item.setData(Qt.ItemDataRole.UserRole, defect.key)
            item.setBackground(STATUS_COLOURS[defect.review_status])
            self.table.setItem(row, column, item)

    def _emit_current(self) -> None:
        self.current_changed.emit(self.current_key())

"""The rolls list of the QA window, with filters: station, lot, fabric, date, grade, progress."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QHeaderView,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from station.store.records import utc_now
from ui.review.session import RollRow

ANY = "any"
DATE_CHOICES = {ANY: None, "today": 1.0, "last 7 days": 7.0, "last 30 days": 30.0}
GRADE_CHOICES = (ANY, "pass", "fail", "not graded")
PROGRESS_CHOICES = (ANY, "not started", "in progress", "done")
COLUMNS = ("lot", "station", "started", "defects", "reviewed", "grade")


def _grade_word(row: RollRow) -> str:
    if row.grade.grade is None:
        return "not graded"
    return "pass" if row.grade.grade.passed else "fail"


class RollsPanel(QWidget):
    """Filters above a table of rolls.

    Signals:
        roll_chosen(object): the key (uuid.UUID) of the roll the user opened.
    """

    roll_chosen = pyqtSignal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[RollRow] = []
        self.station_filter = QComboBox()
        self.fabric_filter = QComboBox()
        self.lot_filter = QLineEdit()
        self.lot_filter.setPlaceholderText("part of a lot number")
        self.date_filter = QComboBox()
        self.date_filter.addItems(list(DATE_CHOICES))
        self.grade_filter = QComboBox()
        self.grade_filter.addItems(list(GRADE_CHOICES))
        self.progress_filter = QComboBox()
        self.progress_filter.addItems(list(PROGRESS_CHOICES))
        form = QFormLayout()
        form.addRow("Station", self.station_filter)
        form.addRow("Lot", self.lot_filter)
        form.addRow("Fabric", self.fabric_filter)
        form.addRow("Started", self.date_filter)
        form.addRow("Grade", self.grade_filter)
        form.addRow("Review", self.progress_filter)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.setMinimumWidth(480)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addWidget(self.table, 1)
        for combo in (
            self.station_filter,
            self.fabric_filter,
            self.date_filter,
            self.grade_filter,
            self.progress_filter,
        ):
            combo.currentTextChanged.connect(self._refill)
        self.lot_filter.textChanged.connect(self._refill)

    def set_rows(self, rows: Sequence[RollRow]) -> None:
        """Show these rolls (newest first); the filters keep their choices where they still fit."""
        self._rows = list(rows)
        for combo, values in (
            (self.station_filter, sorted({r.roll.station for r in rows})),
            (self.fabric_filter, sorted({r.roll.fabric_type for r in rows})),
        ):
            chosen = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItems([ANY, *values])
            combo.setCurrentText(chosen if chosen in values else ANY)
            combo.blockSignals(False)
        self._refill()

    def visible_rows(self) -> list[RollRow]:
        """The rolls that pass the filters, in table order."""
        return [row for row in self._rows if self._passes(row)]

    def update_row(self, row: RollRow) -> None:
        """Replace one roll's row (e.g. after a review changed its grade)."""
        self._rows = [row if r.roll.key == row.roll.key else r for r in self._rows]
        self._refill()

    def select_roll(self, key: uuid.UUID) -> None:
        for index, row in enumerate(self.visible_rows()):
            if row.roll.key == key:
                self.table.selectRow(index)
                return

    def _passes(self, row: RollRow) -> bool:
        station, fabric = self.station_filter.currentText(), self.fabric_filter.currentText()
        if station not in ("", ANY) and row.roll.station != station:
            return False
        if fabric not in ("", ANY) and row.roll.fabric_type != fabric:
            return False
        lot = self.lot_filter.text().strip().lower()
        if lot and lot not in row.roll.lot_number.lower():
            return False
        days = DATE_CHOICES.get(self.date_filter.currentText())
        if days is not None and row.roll.started_at < utc_now() - timedelta(days=days):
            return False
        grade = self.grade_filter.currentText()
        if grade != ANY and _grade_word(row) != grade:
            return False
        progress = self.progress_filter.currentText()
        return progress == ANY or row.progress == progress

    def _refill(self) -> None:
        chosen = self._chosen_key()
        rows = self.visible_rows()
        self.table.blockSignals(True)
        self.table.setRowCount(len(rows))
        for index, row in enumerate(rows):
            grade = row.grade.grade
            values = (
                row.roll.lot_number,
                row.roll.station,
                f"{row.roll.started_at:%Y-%m-%d %H:%M}",
                str(row.defect_count),
                f"{row.reviewed_count}/{row.defect_count}",
                f"{grade.points_per_100yd2:.1f} {_grade_word(row)}" if grade else "not graded",
            )
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setData(Qt.ItemDataRole.UserRole, row.roll.key)
                item.setToolTip(f"{row.roll.lot_number}: {row.roll.fabric_type}")
                self.table.setItem(index, column, item)
        if chosen is not None:
            self.select_roll(chosen)  # the same roll stays chosen, without opening it again
        self.table.blockSignals(False)

    def _chosen_key(self) -> uuid.UUID | None:
        items = self.table.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole) if items else None

    def _selection_changed(self) -> None:
        key = self._chosen_key()
        if key is not None:
            self.roll_chosen.emit(key)

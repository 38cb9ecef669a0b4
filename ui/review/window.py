"""The QA review window: rolls, a roll's map and grades, the defect gallery and keyboard review.

Keys (also listed in docs/review.md):

==========  =================================================
C           confirm the current defect (a real defect)
X or R      false alarm (it leaves the grade)
L           relabel to a defect type (a list; typing a new one works)
M           type a comment for the next action (Enter goes back)
J / Down    next defect          K / Up    previous defect
F5          reload the rolls list
Ctrl+P      export the roll report as PDF
==========  =================================================

Every action goes through the store's review methods under the signed-in
user's name; the roll map, both grades and the defect's history are read back
from the database after each one. Database calls run on one background thread
(:class:`~ui.review.worker.DatabaseWorker`), so a lost database shows a dialog
and never freezes the window.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction, QCloseEvent, QKeySequence, QShortcut
from PyQt6.QtWidgets import (
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from station.store.engine import is_connection_error, unreachable_error
from station.store.records import ReviewStatus
from station.store.reviews import ReviewActionKind
from station.store.views import DefectView
from training.errors import CrasStationError
from ui.review.defect_panel import DefectPanel
from ui.review.gallery import DefectGallery
from ui.review.rolls_panel import RollsPanel
from ui.review.session import GradeFigure, ReviewSession, RollRow, RollState
from ui.review.worker import DatabaseWorker
from ui.widgets.roll_map import RollMapWidget, RollMark

log = logging.getLogger(__name__)

KEYS = {
    "confirm": ("C",),
    "reject": ("X", "R"),
    "relabel": ("L",),
    "comment": ("M",),
    "next": ("J",),
    "previous": ("K",),
    "refresh": ("F5",),
}


def describe_error(error: BaseException, url: str) -> str:
    """A message for people: what happened and what to do, never a traceback."""
    if is_connection_error(error):
        error = unreachable_error(url, error)
    if isinstance(error, CrasStationError):
        return f"{error.message}.\n\nWhat to do: {error.hint}" if error.hint else error.message
    log.error("unexpected error in the QA window", exc_info=error)
    return (
        f"Something unexpected went wrong ({type(error).__name__}: {error}).\n\n"
        "What to do: try again; if it happens again, send the log to the engineer."
    )


class ReviewWindow(QMainWindow):
    """The QA review window for one signed-in user.

    Args:
        session: The database, image store and user.
        url: The database URL (for messages; its password is never shown).
    """

    def __init__(self, session: ReviewSession, *, url: str) -> None:
        super().__init__()
        self.session = session
        self.url = url
        self.state: RollState | None = None
        self.last_error = ""
        self.error_box: QMessageBox | None = None
        self.worker = DatabaseWorker(self)
        user = session.user
        self.setWindowTitle(f"QA review: {user.name} ({user.role.value})")
        self.rolls = RollsPanel()
        self.roll_title = QLabel("No roll open")
        self.roll_title.setStyleSheet("font-size: 15px; font-weight: bold;")
        self.grade_all = QLabel("")
        self.grade_confirmed = QLabel("")
        self.roll_map = RollMapWidget()
        self.gallery = DefectGallery()
        self.gallery.images = session.images
        self.panel = DefectPanel()
        self._build_layout()
        self._bind_keys()
        self._build_menu()
        if not user.may_review:
            self.panel.set_review_allowed(
                False, f"{user.name} signed in as {user.role.value}: may view but not review"
            )
        self.rolls.roll_chosen.connect(self.open_roll)
        self.gallery.current_changed.connect(self._show_current)
        self.roll_map.mark_clicked.connect(self.gallery.select)
        self.panel.action_requested.connect(self._button_action)
        self.panel.comment_edit.returnPressed.connect(self.gallery.table.setFocus)
        self.worker.busy_changed.connect(self._busy)
        self.statusBar().showMessage(f"signed in as {user.name} ({user.role.value})")
        self.refresh_rolls()

    # -- layout ----------------------------------------------------------------------------
    def _build_layout(self) -> None:
        right = QWidget()
        column = QVBoxLayout(right)
        column.addWidget(self.roll_title)
        column.addWidget(self.grade_all)
        column.addWidget(self.grade_confirmed)
        column.addWidget(self.roll_map)
        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(self.gallery)
        lower.addWidget(self.panel)
        lower.setSizes([600, 430])
        column.addWidget(lower, 1)
        outer = QSplitter(Qt.Orientation.Horizontal)
        outer.addWidget(self.rolls)
        outer.addWidget(right)
        outer.setStretchFactor(1, 1)
        self.setCentralWidget(outer)
        self.resize(1600, 900)

    def _bind_keys(self) -> None:
        handlers = {
            "confirm": lambda: self.review_current(ReviewActionKind.CONFIRM),
            "reject": lambda: self.review_current(ReviewActionKind.REJECT),
            "relabel": self.ask_relabel,
            "comment": self.panel.comment_edit.setFocus,
            "next": lambda: self.gallery.step(+1),
            "previous": lambda: self.gallery.step(-1),
            "refresh": self.refresh_rolls,
        }
        for name, keys in KEYS.items():
            for key in keys:
                shortcut = QShortcut(QKeySequence(key), self)
                shortcut.activated.connect(handlers[name])

    def _build_menu(self) -> None:
        menu = self.menuBar().addMenu("&File")
        for text, shortcut, handler in (
            ("Export roll report (PDF)…", "Ctrl+P", lambda: self._ask_report("pdf")),
            ("Export roll report (CSV)…", "", lambda: self._ask_report("csv")),
            ("Export roll report (JSON)…", "", lambda: self._ask_report("json")),
            ("Export reviewed defects as a training set…", "Ctrl+E", self._ask_training),
            ("Reload rolls", "", self.refresh_rolls),
            ("Quit", "Ctrl+Q", self.close),
        ):
            action = QAction(text, self)
            if shortcut:
                action.setShortcut(QKeySequence(shortcut))
            action.triggered.connect(handler)
            menu.addAction(action)

    # -- errors and status -----------------------------------------------------------------
    def show_error(self, error: BaseException) -> None:
        """A dialog (not blocking the window) with what happened and what to do."""
        self.last_error = describe_error(error, self.url)
        self.statusBar().showMessage(self.last_error.splitlines()[0], 15_000)
        if self.error_box is not None:
            self.error_box.close()
        self.error_box = QMessageBox(
            QMessageBox.Icon.Warning, "QA review", self.last_error, parent=self
        )
        self.error_box.open()

    def _busy(self, busy: bool) -> None:
        cursor = Qt.CursorShape.BusyCursor if busy else Qt.CursorShape.ArrowCursor
        self.setCursor(cursor)

    # -- rolls -----------------------------------------------------------------------------
    def refresh_rolls(self) -> None:
        """Reload the rolls list from the database."""
        self.worker.submit(
            self.session.list_rolls, on_done=self.rolls.set_rows, on_error=self.show_error
        )

    def open_roll(self, roll_key: uuid.UUID) -> None:
        """Read a roll and show it (map, grades, gallery)."""
        self.worker.submit(
            lambda: self.session.roll_state(roll_key),
            on_done=lambda state: self._show_roll(state, opened=True),
            on_error=self.show_error,
        )

    def _show_roll(self, state: RollState, *, opened: bool = False) -> None:
        self.state = state
        roll = state.roll
        self.roll_title.setText(
            f"Roll {roll.lot_number}: {roll.fabric_type}, {roll.width_mm:.0f} mm wide, "
            f"station {roll.station}, {len(state.defects)} defects"
        )
        self.grade_all.setText(f"All detections except false alarms: {state.all_detections.text()}")
        self.grade_confirmed.setText(f"Confirmed by QA only: {state.confirmed_only.text()}")
        for label, figure in ((self.grade_all, state.all_detections),
                              (self.grade_confirmed, state.confirmed_only)):  # fmt: skip
            label.setStyleSheet(_grade_style(figure))
        self.roll_map.set_roll(length_mm=state.length_mm, width_mm=roll.width_mm)
        self.roll_map.set_uninspected(state.uninspected)
        self.roll_map.set_defects(
            RollMark(
                key=d.key,
                along_mm=d.along_mm,
                across_mm=d.across_mm,
                points=d.points,
                length_mm=d.length_mm,
                width_mm=d.width_mm,
                rejected=d.review_status is ReviewStatus.FALSE_ALARM,
            )
            for d in state.defects
        )
        self.gallery.set_defects(state.defects, keep_current=not opened)
        reviewed = sum(d.review_status is not ReviewStatus.UNREVIEWED for d in state.defects)
        self.rolls.update_row(
            RollRow(
                roll=roll,
                defect_count=len(state.defects),
                reviewed_count=reviewed,
                grade=state.all_detections,
            )
        )
        if opened:
            self.gallery.step(0)
            self.gallery.table.setFocus()

    def current_defect(self) -> DefectView | None:
        key = self.gallery.current_key()
        if self.state is None or key is None:
            return None
        return next((d for d in self.state.defects if d.key == key), None)

    def _show_current(self, key: uuid.UUID | None) -> None:
        defect = self.current_defect()
        self.roll_map.set_selected(key)
        self.panel.show_defect(defect, self.session.images)
        if defect is not None:
            self.worker.submit(
                lambda: self.session.history(defect.key),
                on_done=self.panel.show_history,
                on_error=self._history_failed,
            )

    def _history_failed(self, error: BaseException) -> None:
        # A background read: say it in the history list; dialogs are for the person's actions.
        self.panel.history.clear()
        self.panel.history.addItem(
            "history not available: " + describe_error(error, self.url).splitlines()[0]
        )

    # -- review ----------------------------------------------------------------------------
    def review_current(self, action: ReviewActionKind, *, defect_type: str | None = None) -> None:
        """Apply ``action`` to the current defect as the signed-in user, then show the roll."""
        defect = self.current_defect()
        if defect is None:
            self.statusBar().showMessage("choose a defect first", 5000)
            return
        user = self.session.user
        if not user.may_review:
            self.statusBar().showMessage(
                f"{user.name} signed in as {user.role.value} and may not review defects; "
                "sign in as qa or engineer",
                8000,
            )
            return
        comment = self.panel.take_comment()
        self.worker.submit(
            lambda: self.session.review(
                defect.key, defect.roll_key, action=action, defect_type=defect_type,
                comment=comment,
            ),
            on_done=self._after_review,
            on_error=self.show_error,
        )  # fmt: skip
        # Move on at once, so the next key press acts on the next defect even while this
        # action is still being saved.
        self.gallery.step(+1)

    def _after_review(self, state: RollState) -> None:
        self._show_roll(state)
        self.statusBar().showMessage(f"saved as {self.session.user.name}", 4000)

    def ask_relabel(self) -> None:
        """Ask for a defect type (from a list, or a new one) and relabel the current defect."""
        defect = self.current_defect()
        if defect is None or self.state is None:
            self.statusBar().showMessage("choose a defect first", 5000)
            return
        types = list(self.state.defect_types)
        current = types.index(defect.defect_type) if defect.defect_type in types else 0
        label, ok = QInputDialog.getItem(
            self, "Relabel defect", "Defect type:", types, current, editable=True
        )
        if ok and label.strip():
            self.review_current(ReviewActionKind.RELABEL, defect_type=label.strip())

    def _button_action(self, name: str) -> None:
        if name == "comment":
            self.panel.comment_edit.setFocus()
        elif name == "relabel":
            self.ask_relabel()
        else:
            self.review_current(ReviewActionKind(name))

    # -- exports ---------------------------------------------------------------------------
    def export_report(self, path: Path, report_format: str) -> None:
        """Write the open roll's report (pdf, csv or json) to ``path`` on the database thread."""
        if self.state is None:
            self.statusBar().showMessage("open a roll first", 5000)
            return
        roll_key = self.state.roll.key
        self.worker.submit(
            lambda: self.session.export_report(roll_key, path, report_format=report_format),
            on_done=lambda written: self.statusBar().showMessage(f"report written to {written}"),
            on_error=self.show_error,
        )

    def export_training(self, out_dir: Path) -> None:
        """Export every reviewed defect's crop and label into ``out_dir``."""
        self.worker.submit(
            lambda: self.session.export_training(out_dir),
            on_done=lambda result: self.statusBar().showMessage(
                f"exported {result.exported} crop(s) to {result.out_dir}; "
                f"{len(result.skipped)} skipped (see manifest.json)"
            ),
            on_error=self.show_error,
        )

    def _ask_report(self, report_format: str) -> None:
        if self.state is None:
            self.statusBar().showMessage("open a roll first", 5000)
            return
        suggested = f"{self.state.roll.lot_number}.{report_format}"
        path, _ = QFileDialog.getSaveFileName(self, "Export roll report", suggested)
        if path:
            self.export_report(Path(path), report_format)

    def _ask_training(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Export training set into (empty folder)")
        if path:
            self.export_training(Path(path))

    # -- closing ---------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent | None) -> None:  # noqa: N802 - Qt's name
        """Stop the database thread and close the connections."""
        self.worker.shutdown()
        self.session.repository.close()
        super().closeEvent(event)


def _grade_style(figure: GradeFigure) -> str:
    if figure.grade is None:
        return "color: #555555;"
    return "color: #1b5e20;" if figure.grade.passed else "color: #b71c1c; font-weight: bold;"

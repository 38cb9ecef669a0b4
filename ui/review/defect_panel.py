"""The current defect: crop and heatmap, its figures, its review history and the review keys."""

from __future__ import annotations

from collections.abc import Sequence

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from station.store.images import ImageStore
from station.store.views import DefectView, ReviewActionView
from ui.review.gallery import STATUS_TEXT
from ui.widgets.defect_view import DefectImagesView

# Action name -> (button text with its keys); the window binds the keys.
ACTIONS = {
    "confirm": "Confirm  [C]",
    "reject": "False alarm  [X / R]",
    "relabel": "Relabel…  [L]",
    "comment": "Comment  [M]",
}


def history_line(action: ReviewActionView) -> str:
    """One line of the review history, e.g. ``2026-12-03 14:02  anna  reject  "dust"``."""
    parts = [f"{action.acted_at:%Y-%m-%d %H:%M:%S}", action.reviewer, action.action]
    if action.defect_type:
        parts.append(f"→ {action.defect_type}")
    if action.comment:
        parts.append(f"“{action.comment}”")
    return "  ".join(parts)


class DefectPanel(QWidget):
    """Pictures, figures, history and review buttons of one defect.

    Signals:
        action_requested(str): a review button was pressed (a key of :data:`ACTIONS`).
    """

    action_requested = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.images_view = DefectImagesView()
        self.details = QLabel("")
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setWordWrap(True)
        self.comment_edit = QLineEdit()
        self.comment_edit.setPlaceholderText(
            "comment kept with the next action (M to type, Enter to go back)"
        )
        self.history = QListWidget()
        self.history.setMaximumHeight(110)
        self.history.setWordWrap(True)
        self.buttons: dict[str, QPushButton] = {}
        buttons = QHBoxLayout()
        for name, text in ACTIONS.items():
            button = QPushButton(text)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys stay with the gallery
            button.clicked.connect(lambda _=False, n=name: self.action_requested.emit(n))
            self.buttons[name] = button
            buttons.addWidget(button)
        grid = QGridLayout()
        grid.addWidget(QLabel("Comment"), 0, 0)
        grid.addWidget(self.comment_edit, 0, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.images_view, 1)
        layout.addWidget(self.details)
        layout.addLayout(buttons)
        layout.addLayout(grid)
        layout.addWidget(QLabel("Review history"))
        layout.addWidget(self.history)
        self.show_defect(None, None)

    def set_review_allowed(self, allowed: bool, reason: str = "") -> None:
        """Enable the review buttons, or disable them with ``reason`` as their tooltip."""
        for button in self.buttons.values():
            button.setEnabled(allowed)
            button.setToolTip("" if allowed else reason)
        self.comment_edit.setEnabled(allowed)

    def show_defect(self, defect: DefectView | None, images: ImageStore | None) -> None:
        """Show one defect (None: nothing selected)."""
        if defect is None:
            self.images_view.clear("No defect selected.")
            self.details.setText("Choose a roll, then a defect (Up/Down or J/K).")
            self.history.clear()
            return
        self.images_view.show_stored(
            images,
            crop_path=defect.crop_path,
            crop_sha256=defect.crop_sha256,
            heatmap_path=defect.heatmap_path,
            heatmap_sha256=defect.heatmap_sha256,
        )
        status = STATUS_TEXT[defect.review_status]
        reviewed = (
            f" by {defect.reviewer} at {defect.reviewed_at:%Y-%m-%d %H:%M}"
            if defect.reviewer and defect.reviewed_at
            else ""
        )
        self.details.setText(
            f"<b>{defect.along_mm / 1000.0:.3f} m</b> along, {defect.across_mm:.0f} mm across; "
            f"{defect.length_mm:.0f} x {defect.width_mm:.0f} mm; score {defect.peak_score:.3f}; "
            f"<b>{defect.points} point{'s' if defect.points != 1 else ''}</b>; "
            f"class {defect.fabric_class}; type {defect.defect_type or 'unlabelled'}<br>"
            f"status <b>{status}</b>{reviewed}"
        )

    def show_history(self, actions: Sequence[ReviewActionView]) -> None:
        self.history.clear()
        if not actions:
            self.history.addItem("not reviewed yet")
        for action in actions:
            self.history.addItem(history_line(action))

    def take_comment(self) -> str | None:
        """The typed comment (cleared), or None when there is none."""
        text = self.comment_edit.text().strip()
        self.comment_edit.clear()
        return text or None

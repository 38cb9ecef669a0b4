"""The alarm banner: a red strip with the newest alarm, a count and an acknowledge button.

Each new alarm beeps (``QApplication.beep``, which is silent where there is no
sound device, e.g. on the offscreen platform) until it is acknowledged.
"""

from __future__ import annotations

from collections.abc import Callable

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QApplication, QFrame, QHBoxLayout, QLabel, QPushButton, QWidget


class AlarmBanner(QFrame):
    """Hidden until an alarm; acknowledging hides it.

    Args:
        beep: Makes the sound (default ``QApplication.beep``).
        parent: Qt parent.
    """

    acknowledged = pyqtSignal()

    def __init__(
        self, *, beep: Callable[[], None] | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._beep = beep or QApplication.beep
        self.setObjectName("alarm_banner")
        self.setStyleSheet(
            "#alarm_banner { background: #c62828; border-radius: 4px; }"
            "#alarm_banner QLabel { color: white; font-weight: bold; font-size: 14px; }"
        )
        layout = QHBoxLayout(self)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.button = QPushButton("Acknowledge")
        self.button.clicked.connect(self.acknowledge)
        layout.addWidget(self.message, 1)
        layout.addWidget(self.button)
        self.pending = 0
        self.beeps = 0
        self.hide()

    def raise_alarm(self, message: str) -> None:
        """Show ``message`` (the newest of the alarms not yet acknowledged) and beep."""
        self.pending += 1
        more = f"  (+{self.pending - 1} more)" if self.pending > 1 else ""
        self.message.setText(f"ALARM: {message}{more}")
        self.show()
        self.beeps += 1
        self._beep()

    def acknowledge(self) -> None:
        """Clear the alarms shown."""
        self.pending = 0
        self.hide()
        self.acknowledged.emit()

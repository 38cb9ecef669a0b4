"""Status lights: a coloured dot, a name and a short state; the reason on hover."""

from __future__ import annotations

from enum import StrEnum

from PyQt6.QtWidgets import QHBoxLayout, QLabel, QWidget


class Light(StrEnum):
    """A light's colour and what it means."""

    OFF = "#9e9e9e"  # not started
    GOOD = "#2e7d32"
    WARN = "#f9a825"  # working, with a problem (e.g. journaling while the database is down)
    BAD = "#c62828"  # not working


class StatusLight(QWidget):
    """One light.

    Args:
        name: What it watches, e.g. ``camera``.
        parent: Qt parent.
    """

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.light = Light.OFF
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 12, 2)
        self._dot = QLabel("●")
        self._text = QLabel()
        layout.addWidget(self._dot)
        layout.addWidget(self._text)
        self.set(Light.OFF, "not started", "nothing is running yet")

    def set(self, light: Light, state: str, reason: str) -> None:
        """Show ``light`` with a short ``state``; ``reason`` is the tooltip."""
        self.light = light
        self._dot.setStyleSheet(f"color: {light.value}; font-size: 18px;")
        self._text.setText(f"<b>{self.name}</b>: {state}")
        self.setToolTip(reason)

    @property
    def state_text(self) -> str:
        """The short state shown (without the name)."""
        return self._text.text().split(": ", 1)[-1]


class StatusLightsWidget(QWidget):
    """A row of named lights.

    Args:
        names: The lights, left to right.
        parent: Qt parent.
    """

    def __init__(self, names: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.lights = {name: StatusLight(name) for name in names}
        for light in self.lights.values():
            layout.addWidget(light)
        layout.addStretch(1)

    def set(self, name: str, light: Light, state: str, reason: str) -> None:
        """Set the light called ``name``."""
        self.lights[name].set(light, state, reason)

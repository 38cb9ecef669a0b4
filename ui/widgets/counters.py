"""A panel of named figures (label: value), each value optionally marked good or bad."""

from __future__ import annotations

from PyQt6.QtWidgets import QFormLayout, QGroupBox, QLabel, QWidget

_STYLE = {
    None: "font-weight: bold;",
    True: "font-weight: bold; color: #1b7f2a;",
    False: "font-weight: bold; color: #c62828;",
}


class CountersWidget(QGroupBox):
    """Named read-only figures in a form; the window sets their text.

    Args:
        title: The box's title.
        names: ``{key: label}`` in display order.
        parent: Qt parent.
    """

    def __init__(self, title: str, names: dict[str, str], parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        layout = QFormLayout(self)
        self._values: dict[str, QLabel] = {}
        for key, label in names.items():
            value = QLabel("–")
            value.setStyleSheet(_STYLE[None])
            value.setObjectName(f"counter_{key}")
            layout.addRow(f"{label}:", value)
            self._values[key] = value

    def set_value(self, key: str, text: str, *, good: bool | None = None, tip: str = "") -> None:
        """Show ``text`` for ``key``; ``good`` colours it green (True) or red (False)."""
        label = self._values[key]
        label.setText(text)
        label.setStyleSheet(_STYLE[good])
        label.setToolTip(tip)

    def value(self, key: str) -> str:
        """The text shown for ``key``."""
        return self._values[key].text()

"""Roll control: new roll (lot, fabric article, width), start and stop, model, sensitivity."""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QWidget,
)

from ui.operator.session import RollDetails

STEPS_PER_UNIT = 100  # the slider moves in hundredths of sensitivity


class RollControls(QGroupBox):
    """The operator's controls; the window connects the signals to the pipeline.

    Args:
        sensitivity_range: Lowest and highest sensitivity this user may set.
        parent: Qt parent.
    """

    start_requested = pyqtSignal(object)  # RollDetails
    stop_requested = pyqtSignal()
    sensitivity_chosen = pyqtSignal(float)
    sign_in_requested = pyqtSignal()

    def __init__(
        self, *, sensitivity_range: tuple[float, float], parent: QWidget | None = None
    ) -> None:
        super().__init__("Roll", parent)
        layout = QFormLayout(self)
        self.lot = QLineEdit()
        self.lot.setPlaceholderText("auto (station + start time)")
        self.article = QLineEdit()
        self.article.setPlaceholderText("from the configuration")
        self.width = QDoubleSpinBox()
        self.width.setRange(0.0, 10_000.0)
        self.width.setDecimals(0)
        self.width.setSuffix(" mm")
        self.width.setSpecialValueText("measured")
        self.model = QLabel("–")
        self.model.setWordWrap(True)
        self.start = QPushButton("Start roll")
        self.stop = QPushButton("End roll")
        self.stop.setEnabled(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start)
        buttons.addWidget(self.stop)
        self.sensitivity = QSlider(Qt.Orientation.Horizontal)
        self.sensitivity.setTracking(False)  # one change (and one store event) per release
        self.sensitivity_label = QLabel()
        self.sensitivity.setToolTip("higher finds fainter defects; each change is recorded")
        self.user_label = QLabel()
        self.sign_in = QPushButton("Sign in ...")
        self.sign_in.setToolTip("engineers may set a wider sensitivity range")
        self.sign_in.clicked.connect(self.sign_in_requested.emit)
        user_row = QHBoxLayout()
        user_row.addWidget(self.user_label, 1)
        user_row.addWidget(self.sign_in)
        layout.addRow("Lot number:", self.lot)
        layout.addRow("Fabric article:", self.article)
        layout.addRow("Width:", self.width)
        layout.addRow(buttons)
        layout.addRow("Model:", self.model)
        layout.addRow("Sensitivity:", self.sensitivity)
        layout.addRow("", self.sensitivity_label)
        layout.addRow("User:", user_row)
        self.set_sensitivity_range(*sensitivity_range)
        self.start.clicked.connect(self._start_clicked)
        self.stop.clicked.connect(self.stop_requested.emit)
        self.sensitivity.valueChanged.connect(self._slider_moved)

    def show_model(self, text: str) -> None:
        """Show what inspects the roll; the row grows to the wrapped text's height.

        A word-wrapped label in a form row keeps the height it had, so a longer text
        (a recipe's two lines wrapped to four) would be cut off without this.
        """
        if text == self.model.text():
            return
        self.model.setText(text)
        self.model.setMinimumHeight(self.model.heightForWidth(max(self.model.width(), 1)))

    def set_sensitivity_range(self, low: float, high: float, *, value: float = 1.0) -> None:
        """Limit the slider to ``low``-``high`` (the configured range for this user)."""
        self.sensitivity.blockSignals(True)
        self.sensitivity.setRange(round(low * STEPS_PER_UNIT), round(high * STEPS_PER_UNIT))
        self.sensitivity.setValue(round(value * STEPS_PER_UNIT))
        self.sensitivity.blockSignals(False)
        self.low, self.high = low, high
        self._show_sensitivity()

    @property
    def sensitivity_value(self) -> float:
        """The sensitivity the slider shows."""
        return self.sensitivity.value() / STEPS_PER_UNIT

    def show_user(self, name: str, role: str) -> None:
        """Who the settings changes are recorded for."""
        self.user_label.setText(f"{name} ({role})")

    def roll_details(self) -> RollDetails:
        """What was entered for the next roll."""
        return RollDetails(
            lot_number=self.lot.text().strip(),
            fabric_type=self.article.text().strip(),
            width_mm=self.width.value() or None,
        )

    def set_running(self, running: bool, *, busy: bool = False) -> None:
        """Enable what fits: new-roll fields and Start while idle, End roll while running."""
        for widget in (self.lot, self.article, self.width, self.start):
            widget.setEnabled(not running and not busy)
        self.stop.setEnabled(running and not busy)
        self.sensitivity.setEnabled(running and not busy)

    def _start_clicked(self) -> None:
        self.start_requested.emit(self.roll_details())

    def _slider_moved(self, _value: int) -> None:
        self._show_sensitivity()
        self.sensitivity_chosen.emit(self.sensitivity_value)

    def _show_sensitivity(self) -> None:
        self.sensitivity_label.setText(
            f"{self.sensitivity_value:.2f} (allowed {self.low:.2f}-{self.high:.2f})"
        )

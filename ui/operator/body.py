"""The operator window's widgets and their places (no behaviour: the window wires them)."""

from __future__ import annotations

from collections.abc import Callable

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from station.pipeline.config import OperatorConfig
from ui.operator.crop_view import CropView
from ui.operator.roll_controls import RollControls
from ui.widgets.alarm_banner import AlarmBanner
from ui.widgets.counters import CountersWidget
from ui.widgets.roll_map import RollMapWidget
from ui.widgets.status_lights import StatusLightsWidget
from ui.widgets.waterfall import WaterfallWidget

COUNTERS = {
    "inspected": "Inspected",
    "uninspected": "Not inspected",
    "defects": "Defects",
    "grade": "Points / 100 yd²",
    "speed": "Line speed",
    "tiles": "Tiles / s",
    "dropped": "Dropped blocks",
    "false_alarms": "False alarms (QA)",
}


class OperatorBody(QWidget):
    """Lights and banner on top; live view left; roll, figures and defect right; roll map below.

    Args:
        limits: The ``operator:`` section (waterfall height, the operators' sensitivity range).
        beep: The audible alarm.
    """

    def __init__(self, limits: OperatorConfig, *, beep: Callable[[], None] | None) -> None:
        super().__init__()
        self.lights = StatusLightsWidget(["source", "model", "database"])
        self.banner = AlarmBanner(beep=beep)
        self.waterfall = WaterfallWidget(rows=limits.waterfall_rows)
        self.overlay = QCheckBox("Heat overlay")
        self.overlay.setChecked(True)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(60)
        self.strip = RollMapWidget()
        self.strip.setMinimumHeight(110)
        self.crop = CropView()
        self.counters = CountersWidget("Figures", COUNTERS)
        self.controls = RollControls(
            sensitivity_range=(limits.sensitivity_min, limits.sensitivity_max)
        )
        self.state_line = QLabel("No roll running. Enter the roll and press Start roll.")

        overlay_row = QHBoxLayout()
        overlay_row.addWidget(self.overlay)
        overlay_row.addWidget(QLabel("opacity"))
        overlay_row.addWidget(self.opacity, 1)
        left = QVBoxLayout()
        left.addWidget(self.waterfall, 1)
        left.addLayout(overlay_row)
        right = QVBoxLayout()
        right.addWidget(self.controls)
        right.addWidget(self.counters)
        right.addWidget(self.crop)
        right.addStretch(1)
        middle = QHBoxLayout()
        middle.addLayout(left, 3)
        middle.addLayout(right, 1)
        column = QVBoxLayout(self)
        column.addWidget(self.lights)
        column.addWidget(self.banner)
        column.addLayout(middle, 1)
        column.addWidget(QLabel("Roll map (grey: not inspected; colour: 4-point points 1-4)"))
        column.addWidget(self.strip)
        column.addWidget(self.state_line)

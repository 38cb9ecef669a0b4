"""The operator's sensitivity: a divisor of the model's threshold, within the engineer's limits."""

from __future__ import annotations

from station.pipeline.config import OperatorConfig
from station.pipeline.errors import PipelineConfigError
from station.pipeline.recorder import RollRecorder
from station.store.records import Severity


def check_sensitivity(sensitivity: float, limits: OperatorConfig, *, engineer: bool) -> None:
    """Refuse a sensitivity outside the range an operator (or an engineer) may set.

    Raises:
        PipelineConfigError: ``sensitivity`` lies outside the allowed range.
    """
    low, high = (
        (limits.engineer_sensitivity_min, limits.engineer_sensitivity_max)
        if engineer
        else (limits.sensitivity_min, limits.sensitivity_max)
    )
    if not low <= sensitivity <= high:
        who = "an engineer" if engineer else "an operator"
        raise PipelineConfigError(
            f"sensitivity {sensitivity:.2f} is outside {low:.2f}-{high:.2f}, the range "
            f"{who} may set",
            hint="ask the engineer to widen operator.sensitivity_min/max in station.yaml",
        )


def record_sensitivity_change(
    recorder: RollRecorder, *, previous: float, sensitivity: float, threshold: float, user: str
) -> None:
    """Record the change as a ``setting_change`` event of the roll naming ``user``."""
    recorder.event(
        "setting_change",
        f"sensitivity {previous:.2f} -> {sensitivity:.2f} (threshold {threshold:.4g}) by {user}",
        severity=Severity.INFO,
        details={
            "setting": "sensitivity",
            "user": user,
            "from": previous,
            "to": sensitivity,
            "threshold": threshold,
        },
    )

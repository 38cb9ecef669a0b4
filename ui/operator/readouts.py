"""What the operator window shows, worked out without Qt: alarms, the live grade, the database.

Plain functions of pipeline and store values, so the rules are read (and
tested) apart from the widgets that show them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from engines.backends.base import BackendInfo
from station.grading import GradedDefect, grade_roll
from station.pipeline.config import OperatorConfig
from station.pipeline.extraction import FoundDefect
from station.pipeline.figures import PipelineFigures
from station.pipeline.recipe_selection import RecipeSelection
from station.store.views import DefectView
from station.store.writer import WriterStats
from ui.operator.store_watch import StoreReading
from ui.widgets.status_lights import Light


@dataclass(frozen=True)
class Readout:
    """A text to show, whether it is good (None: neutral) and the reason on hover."""

    text: str
    good: bool | None = None
    tip: str = ""


@dataclass(frozen=True)
class LightReadout:
    """A status light's colour, short state and reason."""

    light: Light
    state: str
    reason: str


def defect_alarm(defect: FoundDefect, limits: OperatorConfig) -> str | None:
    """The alarm message for a defect over the engineer's limits, else None."""
    reasons = []
    if defect.points >= limits.alarm_min_points:
        reasons.append(f"{defect.points} points")
    if limits.alarm_min_score is not None and defect.peak_score >= limits.alarm_min_score:
        reasons.append(f"score {defect.peak_score:.3g}")
    if limits.alarm_min_length_mm is not None and defect.length_mm >= limits.alarm_min_length_mm:
        reasons.append(f"{defect.length_mm:.0f} mm long")
    if not reasons:
        return None
    return (
        f"{defect.points}-point defect at {defect.along_mm / 1000:.3f} m, "
        f"{defect.across_mm:.0f} mm from the left edge "
        f"({defect.length_mm:.0f} x {defect.width_mm:.0f} mm; {', '.join(reasons)})"
    )


def live_grade(
    defects: Iterable[FoundDefect], *, width_mm: float | None, length_mm: float, limit: float
) -> Readout:
    """Points per 100 yd² of all detections so far, and pass/fail against ``limit``."""
    if not width_mm or length_mm <= 0:
        return Readout("–", tip="graded once fabric was inspected")
    graded = [
        GradedDefect(along_mm=d.along_mm, length_along_mm=d.length_mm, points=d.points)
        for d in defects
    ]
    grade = grade_roll(
        graded, width_mm=width_mm, length_mm=length_mm, limit_points_per_100yd2=limit
    )
    verdict = "pass" if grade.passed else "FAIL"
    return Readout(
        f"{grade.points_per_100yd2:.1f} ({verdict}, limit {limit:g})",
        good=grade.passed,
        tip="all detections so far, before QA review (4-point system, per-yard cap)",
    )


def database_light(stats: WriterStats | None, reading: StoreReading | None) -> LightReadout | None:
    """The database light from the station's writer and the window's own reading.

    Args:
        stats: The running pipeline's writer counters (None when no roll runs).
        reading: The newest reading of the store watch (None before the first).

    Returns:
        The light to show, or None when nothing is known yet.
    """
    if stats is not None and not stats.database_online:
        return LightReadout(
            Light.WARN,
            f"offline, {stats.journal_pending} journaled",
            "records wait in the journal until the database answers"
            + (f": {stats.last_error}" if stats.last_error else ""),
        )
    if reading is not None and not reading.reachable:
        return LightReadout(Light.BAD, "not readable", reading.problem)
    if reading is None:
        return None
    backlog = stats.queued + stats.journal_pending if stats is not None else 0
    return LightReadout(Light.GOOD, f"online, backlog {backlog}", "the database answers")


def defect_facts(defect: FoundDefect) -> str:
    """Three lines about a defect for the crop view."""
    return (
        f"{defect.points} point(s), score {defect.peak_score:.3g}, {defect.fabric_class}\n"
        f"at {defect.along_mm / 1000:.3f} m, {defect.across_mm:.0f} mm from the left edge\n"
        f"{defect.length_mm:.0f} mm long, {defect.width_mm:.0f} mm wide"
    )


def stored_view(
    defect: FoundDefect, views: Sequence[DefectView], *, tolerance_mm: float = 0.5
) -> DefectView | None:
    """The store's row of a defect the pipeline reported (same place within ``tolerance_mm``)."""
    if not views:
        return None

    def distance(view: DefectView) -> float:
        return abs(view.along_mm - defect.along_mm) + abs(view.across_mm - defect.across_mm)

    best = min(views, key=distance)
    return best if distance(best) < tolerance_mm else None


def figure_readouts(figures: PipelineFigures) -> dict[str, Readout]:
    """The counters that follow the pipeline's figures (keys of the window's counters)."""
    dropped = figures.source_dropped_blocks + figures.dropped_rows
    return {
        "inspected": Readout(f"{figures.metres_inspected:.2f} m"),
        "uninspected": Readout(
            f"{figures.metres_uninspected:.2f} m", good=figures.metres_uninspected == 0
        ),
        "speed": Readout(f"{figures.web_speed_m_per_min:.1f} m/min"),
        "tiles": Readout(f"{figures.tiles_per_s:.0f}"),
        "dropped": Readout(
            str(dropped),
            good=dropped == 0,
            tip=f"{figures.source_dropped_blocks} source blocks, {figures.dropped_rows} tile rows",
        ),
    }


def model_readout(model_path: object, recipe: RecipeSelection | None, info: BackendInfo) -> str:
    """The roll control's model line: the roll's recipe (name, version, model) when it has one."""
    runtime = f"{info.name}, {info.precision}, {info.device}, classes: {', '.join(info.classes)}"
    if recipe is None:
        return f"{model_path}\n{runtime}"
    chosen = recipe.recipe
    return (
        f"recipe {chosen.name} v{chosen.version} for {recipe.article}, "
        f"model {chosen.model_sha256[:12]}\n{runtime}"
    )

"""What the QA window reads and does, without Qt: one signed-in user on one defect database.

Every method calls the store's own functions (queries, review actions, grade,
report and training export) and returns plain frozen values, so the window can
run them on its database thread and show the results in the GUI thread.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from station.grading import RollGrade
from station.store.errors import ExportError, GradingError
from station.store.export import (
    ReportFormat,
    TrainingSetResult,
    export_training_set,
    iter_defects,
    write_roll_report,
)
from station.store.images import ImageStore
from station.store.pdf_report import write_pdf_report
from station.store.records import EventKind, ReviewStatus, utc_now
from station.store.repository import DefectRepository
from station.store.reviews import ReviewActionKind
from station.store.users import Role, SignedInUser, require_role
from station.store.views import DefectOrder, DefectQuery, DefectView, ReviewActionView, RollView

MAX_ROLLS = 500
COMMON_DEFECT_TYPES = (
    "hole",
    "stain",
    "oil stain",
    "slub",
    "broken end",
    "broken pick",
    "knot",
    "thick place",
    "thin place",
    "float",
    "crease",
)


@dataclass(frozen=True, slots=True)
class GradeFigure:
    """One 4-point grade, or why the roll cannot be graded."""

    grade: RollGrade | None
    problem: str | None = None

    def text(self) -> str:
        """E.g. ``"23.4 points/100 yd² (limit 40): PASS"``."""
        if self.grade is None:
            return f"not graded: {self.problem}"
        verdict = "PASS" if self.grade.passed else "FAIL"
        return (
            f"{self.grade.points_per_100yd2:.1f} points/100 yd² "
            f"(limit {self.grade.limit_points_per_100yd2:g}): {verdict}"
        )


@dataclass(frozen=True, slots=True)
class RollRow:
    """A roll in the rolls list."""

    roll: RollView
    defect_count: int
    reviewed_count: int
    grade: GradeFigure

    @property
    def progress(self) -> str:
        """``not started``, ``in progress`` or ``done``."""
        if self.defect_count == 0 or self.reviewed_count == self.defect_count:
            return "done"
        return "not started" if self.reviewed_count == 0 else "in progress"


@dataclass(frozen=True, slots=True)
class RollState:
    """A roll as the review pane shows it, read after every action.

    Attributes:
        all_detections: The grade of every defect QA has not rejected.
        confirmed_only: The grade of the defects QA confirmed.
    """

    roll: RollView
    defects: tuple[DefectView, ...]
    all_detections: GradeFigure
    confirmed_only: GradeFigure
    uninspected: tuple[tuple[float, float], ...]
    defect_types: tuple[str, ...] = field(default=COMMON_DEFECT_TYPES)

    @property
    def length_mm(self) -> float:
        along = max((d.along_mm + d.length_mm / 2 for d in self.defects), default=0.0)
        return max(self.roll.length_inspected_mm or 0.0, along, 1.0)


class ReviewSession:
    """A signed-in user reviewing the rolls of one database.

    Args:
        repository: The defect database.
        images: The image store (None: the window shows no pictures).
        user: Who signed in; reviews are recorded under their name.
        limit_points_per_100yd2: The grade's pass/fail limit.
    """

    def __init__(
        self,
        repository: DefectRepository,
        images: ImageStore | None,
        user: SignedInUser,
        *,
        limit_points_per_100yd2: float,
    ) -> None:
        self.repository = repository
        self.images = images
        self.user = user
        self.limit = limit_points_per_100yd2

    # -- reading ---------------------------------------------------------------------------
    def _grade(self, roll_key: uuid.UUID, *, include_unreviewed: bool) -> GradeFigure:
        try:
            grade = self.repository.grade(
                roll_key,
                limit_points_per_100yd2=self.limit,
                include_unreviewed=include_unreviewed,
            )
        except GradingError as error:
            return GradeFigure(None, error.message)
        return GradeFigure(grade)

    def list_rolls(self, *, since_days: float | None = None) -> list[RollRow]:
        """The newest rolls (at most :data:`MAX_ROLLS`), optionally of the last days only."""
        since = utc_now() - timedelta(days=since_days) if since_days is not None else None
        rows = []
        for roll in self.repository.list_rolls(since=since, limit=MAX_ROLLS):
            summary = self.repository.roll_summary(roll.key, limit_points_per_100yd2=self.limit)
            unreviewed = summary.defects_by_status.get(ReviewStatus.UNREVIEWED.value, 0)
            rows.append(
                RollRow(
                    roll=roll,
                    defect_count=summary.defect_count,
                    reviewed_count=summary.defect_count - unreviewed,
                    grade=GradeFigure(summary.grade, summary.grade_problem),
                )
            )
        return rows

    def roll_state(self, roll_key: uuid.UUID) -> RollState:
        """The roll, all its defects along the roll, both grades and its uninspected stretches."""
        roll = self.repository.get_roll(roll_key=roll_key)
        defects = tuple(
            iter_defects(
                self.repository, DefectQuery(roll_key=roll_key, order=DefectOrder.ALONG, limit=1000)
            )
        )
        stretches = tuple(
            (event.from_mm, event.to_mm)
            for event in self.repository.list_events(
                roll_key=roll_key, kinds=(EventKind.UNINSPECTED_STRETCH.value,), limit=100_000
            )
            if event.from_mm is not None and event.to_mm is not None
        )
        types = sorted({d.defect_type for d in defects if d.defect_type} | set(COMMON_DEFECT_TYPES))
        return RollState(
            roll=roll,
            defects=defects,
            all_detections=self._grade(roll_key, include_unreviewed=True),
            confirmed_only=self._grade(roll_key, include_unreviewed=False),
            uninspected=stretches,
            defect_types=tuple(types),
        )

    def history(self, defect_key: uuid.UUID) -> list[ReviewActionView]:
        """The defect's review actions, oldest first."""
        return self.repository.review_history(defect_key)

    # -- reviewing -------------------------------------------------------------------------
    def review(
        self,
        defect_key: uuid.UUID,
        roll_key: uuid.UUID,
        *,
        action: ReviewActionKind,
        defect_type: str | None = None,
        comment: str | None = None,
    ) -> RollState:
        """Apply one review action as the signed-in user; returns the roll as it is now.

        Raises:
            PermissionDeniedError: an operator may look but not review.
            ReviewError, NotFoundError, DatabaseUnreachableError: from the store.
        """
        require_role(self.user, Role.QA, Role.ENGINEER, to="review defects")
        self.repository.review_defect(
            defect_key,
            action=action,
            reviewer=self.user.name,
            defect_type=defect_type,
            comment=comment or None,
        )
        return self.roll_state(roll_key)

    # -- exports ---------------------------------------------------------------------------
    def export_report(self, roll_key: uuid.UUID, path: Path, *, report_format: str) -> Path:
        """The roll report as PDF, CSV or JSON (the functions ``station report`` uses)."""
        if report_format == "pdf":
            return write_pdf_report(
                self.repository, self.images, roll_key, path, limit_points_per_100yd2=self.limit
            ).path
        return write_roll_report(
            self.repository,
            roll_key,
            path,
            report_format=ReportFormat(report_format),
            limit_points_per_100yd2=self.limit,
        ).path

    def export_training(self, out_dir: Path, *, since: datetime | None = None) -> TrainingSetResult:
        """Reviewed defects' crops and labels (what ``station db export-training`` writes)."""
        if self.images is None:
            raise ExportError(
                "no image folder is open, so there are no crops to export",
                hint="start the window with --images pointing at the station's image store",
            )
        return export_training_set(self.repository, self.images, out_dir, since=since)

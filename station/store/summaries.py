"""Roll-level answers for QA: runs, the 4-point grade and the roll summary."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable

from sqlalchemy import Engine, and_, func, select

from station.grading import GradedDefect, GradingError, RollGrade, grade_roll
from station.store.models import Camera, Defect, Event, InspectionRun, ModelVersion, Roll
from station.store.queries import roll_key_condition
from station.store.records import EventKind, ReviewStatus
from station.store.views import RollSummary, RollView, RunView


class SummariesMixin:
    """Roll summary methods of :class:`~station.store.repository.DefectRepository`."""

    _engine: Engine
    get_roll: Callable[..., RollView]  # from QueriesMixin

    def list_runs(self, roll_key: uuid.UUID) -> list[RunView]:
        """The roll's inspection runs (one per model used), oldest first."""
        statement = (
            select(
                InspectionRun.key,
                ModelVersion.name.label("model_name"),
                ModelVersion.sha256.label("model_sha256"),
                ModelVersion.threshold,
                Camera.serial.label("camera_serial"),
                InspectionRun.started_at,
                InspectionRun.ended_at,
                InspectionRun.start_mm,
                InspectionRun.inspected_mm,
                InspectionRun.uninspected_mm,
                InspectionRun.inspected_until_mm,
                InspectionRun.acquired_until_mm,
            )
            .join(Roll, InspectionRun.roll_id == Roll.id)
            .join(ModelVersion, InspectionRun.model_version_id == ModelVersion.id)
            .outerjoin(Camera, InspectionRun.camera_id == Camera.id)
            .where(roll_key_condition(roll_key))
            .order_by(InspectionRun.started_at, InspectionRun.id)
        )
        with self._engine.connect() as connection:
            return [RunView(**row._asdict()) for row in connection.execute(statement)]

    def grade(
        self,
        roll_key: uuid.UUID,
        *,
        limit_points_per_100yd2: float,
        include_unreviewed: bool = True,
        length_mm: float | None = None,
    ) -> RollGrade:
        """The roll's 4-point grade. False alarms never count.

        Args:
            roll_key: The roll.
            limit_points_per_100yd2: Pass/fail limit.
            include_unreviewed: Count defects QA has not reviewed yet (else only confirmed).
            length_mm: Inspected length to grade with (default: the one recorded at roll end).

        Raises:
            NotFoundError: no such roll.
            GradingError: the roll has no inspected length yet.
        """
        roll = self.get_roll(roll_key=roll_key)
        length = length_mm if length_mm is not None else roll.length_inspected_mm
        if length is None:
            raise GradingError(
                f"roll {roll.lot_number} has no inspected length yet",
                hint="end the roll first, or pass the length to grade with",
            )
        statuses = [ReviewStatus.CONFIRMED.value]
        if include_unreviewed:
            statuses.append(ReviewStatus.UNREVIEWED.value)
        statement = (
            select(Defect.along_mm, Defect.length_mm, Defect.points)
            .join(Roll, Defect.roll_id == Roll.id)
            .where(and_(Roll.key == roll.key, Defect.review_status.in_(statuses)))
        )
        with self._engine.connect() as connection:
            defects = [
                GradedDefect(along_mm=r.along_mm, length_along_mm=r.length_mm, points=r.points)
                for r in connection.execute(statement)
            ]
        return grade_roll(
            defects,
            width_mm=roll.width_mm,
            length_mm=length,
            limit_points_per_100yd2=limit_points_per_100yd2,
        )

    def roll_summary(self, roll_key: uuid.UUID, *, limit_points_per_100yd2: float) -> RollSummary:
        """Counts, events, runs and grade of one roll.

        Raises:
            NotFoundError: no such roll.
        """
        roll = self.get_roll(roll_key=roll_key)
        no_image = Defect.crop_path.is_(None)
        with self._engine.connect() as connection:
            roll_id = connection.execute(select(Roll.id).where(Roll.key == roll.key)).scalar_one()
            rows = connection.execute(
                select(
                    Defect.review_status,
                    Defect.fabric_class,
                    Defect.defect_type,
                    no_image.label("no_image"),
                    func.count().label("n"),
                )
                .where(Defect.roll_id == roll_id)
                .group_by(Defect.review_status, Defect.fabric_class, Defect.defect_type, no_image)
            ).all()
            events = connection.execute(
                select(
                    Event.kind,
                    func.count().label("n"),
                    func.coalesce(func.sum(Event.to_mm - Event.from_mm), 0.0).label("span"),
                    func.coalesce(func.sum(Event.count), 0).label("total"),
                )
                .where(Event.roll_id == roll_id)
                .group_by(Event.kind)
            ).all()
        by_status: Counter[str] = Counter()
        by_class: Counter[str] = Counter()
        by_type: Counter[str] = Counter()
        without_images = 0
        for row in rows:
            by_status[row.review_status] += row.n
            by_class[row.fabric_class] += row.n
            by_type[row.defect_type or "unlabelled"] += row.n
            without_images += row.n if row.no_image else 0
        event_stats = {row.kind: row for row in events}
        grade, problem = None, None
        try:
            grade = self.grade(roll_key, limit_points_per_100yd2=limit_points_per_100yd2)
        except GradingError as error:
            problem = error.message
        uninspected = event_stats.get(EventKind.UNINSPECTED_STRETCH.value)
        dropped = event_stats.get(EventKind.DROPPED_BLOCKS.value)
        return RollSummary(
            roll=roll,
            defect_count=sum(by_status.values()),
            defects_by_status=dict(by_status),
            defects_by_class=dict(by_class),
            defects_by_type=dict(by_type),
            events_by_kind={kind: row.n for kind, row in event_stats.items()},
            uninspected_mm=float(uninspected.span) if uninspected else 0.0,
            dropped_blocks=int(dropped.total) if dropped else 0,
            defects_without_images=without_images,
            runs=tuple(self.list_runs(roll_key)),
            grade=grade,
            grade_problem=problem,
        )

"""Read-only results of store queries: plain frozen dataclasses, safe to pass between threads."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from station.grading import RollGrade
from station.store.records import ReviewStatus


class DefectOrder(StrEnum):
    """Sort orders of a defect page."""

    ALONG = "along"  # position along the roll, start first (the roll map)
    NEWEST = "newest"  # detection time, newest first
    SCORE = "score"  # peak score, highest first


@dataclass(frozen=True, slots=True)
class RollView:
    key: uuid.UUID
    lot_number: str
    station: str
    fabric_type: str
    width_mm: float
    length_inspected_mm: float | None
    started_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class DefectView:
    key: uuid.UUID
    roll_key: uuid.UUID
    lot_number: str
    run_key: uuid.UUID | None
    detected_at: datetime
    along_mm: float
    across_mm: float
    length_mm: float
    width_mm: float
    area_mm2: float
    peak_score: float
    fabric_class: str
    is_hole: bool
    points: int
    defect_type: str | None
    crop_path: str | None
    crop_sha256: str | None
    heatmap_path: str | None
    heatmap_sha256: str | None
    images_deleted_at: datetime | None
    review_status: ReviewStatus
    reviewer: str | None
    reviewed_at: datetime | None
    review_comment: str | None


@dataclass(frozen=True, slots=True)
class EventView:
    key: uuid.UUID
    kind: str
    severity: str
    message: str
    station: str | None
    roll_key: uuid.UUID | None
    from_mm: float | None
    to_mm: float | None
    count: int | None
    details: dict[str, Any] | None
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class ReviewActionView:
    defect_key: uuid.UUID
    action: str
    reviewer: str
    acted_at: datetime
    defect_type: str | None
    comment: str | None


@dataclass(frozen=True, slots=True)
class RunView:
    """One inspection run of a roll.

    Attributes:
        start_mm: Where the run starts on the roll (> 0 when it continued the roll).
        inspected_mm, uninspected_mm: Totals of its newest coverage checkpoint.
        inspected_until_mm: Everything before it is inspected or marked uninspected.
        acquired_until_mm: End of the last line acquired at that checkpoint.
    """

    key: uuid.UUID
    model_name: str
    model_sha256: str
    threshold: float
    camera_serial: str | None
    started_at: datetime
    ended_at: datetime | None
    start_mm: float | None = None
    inspected_mm: float | None = None
    uninspected_mm: float | None = None
    inspected_until_mm: float | None = None
    acquired_until_mm: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DefectQuery:
    """Filters and paging of a defect query; every filter is optional.

    Attributes:
        roll_key: Only this roll's defects.
        station: Only defects of rolls inspected by this station.
        since, until: Detection time window, ``since <= detected_at < until``.
        fabric_class: Only this fabric class.
        min_score, max_score: Peak score window, ``min <= score <= max``.
        review_status: Only defects in one of these review states.
        order: Sort order of the pages.
        limit: Page size (1..1000).
        cursor: ``next_cursor`` of the previous page (None: first page).
    """

    roll_key: uuid.UUID | None = None
    station: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    fabric_class: str | None = None
    min_score: float | None = None
    max_score: float | None = None
    review_status: tuple[ReviewStatus, ...] | None = None
    order: DefectOrder = DefectOrder.ALONG
    limit: int = 50
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class DefectPage:
    """One page of defects; ``next_cursor`` is None on the last page."""

    items: tuple[DefectView, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RollSummary:
    """What QA sees first about a roll.

    Attributes:
        grade: The 4-point grade, or None when the roll cannot be graded yet
            (``grade_problem`` says why, e.g. the roll has not ended).
        uninspected_mm: Total length of recorded uninspected stretches.
    """

    roll: RollView
    defect_count: int
    defects_by_status: dict[str, int]
    defects_by_class: dict[str, int]
    defects_by_type: dict[str, int]
    events_by_kind: dict[str, int]
    uninspected_mm: float
    dropped_blocks: int
    defects_without_images: int
    runs: tuple[RunView, ...]
    grade: RollGrade | None
    grade_problem: str | None = None

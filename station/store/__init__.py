"""Defect database, image store and roll grading that never lose a defect.

The pipeline opens a :class:`DefectStore` and hands it plain records
(:mod:`station.store.records`) through its non-blocking :class:`DefectWriter`;
QA tools use :attr:`DefectStore.repository` for queries, reviews and grades.
See docs/store.md.
"""

from station.grading import GradingError, RollGrade, points_for_defect
from station.store.config import RetentionConfig, StoreConfig
from station.store.errors import (
    AmbiguousRollError,
    DatabaseUnreachableError,
    ImageStoreFullError,
    InvalidQueryError,
    NotFoundError,
    ReviewError,
    SchemaError,
    StoreError,
)
from station.store.records import (
    DefectRecord,
    EventKind,
    EventRecord,
    ModelVersionInfo,
    ReviewStatus,
    RollEnd,
    RollStart,
    RunEnd,
    RunStart,
    Severity,
)
from station.store.repository import DefectRepository
from station.store.store import DefectStore
from station.store.views import (
    DefectOrder,
    DefectPage,
    DefectQuery,
    DefectView,
    EventView,
    RollSummary,
    RollView,
)
from station.store.writer import DefectWriter, WriterStats

__all__ = [
    "AmbiguousRollError",
    "DatabaseUnreachableError",
    "DefectOrder",
    "DefectPage",
    "DefectQuery",
    "DefectRecord",
    "DefectRepository",
    "DefectStore",
    "DefectView",
    "DefectWriter",
    "EventKind",
    "EventRecord",
    "EventView",
    "GradingError",
    "ImageStoreFullError",
    "InvalidQueryError",
    "ModelVersionInfo",
    "NotFoundError",
    "RetentionConfig",
    "ReviewError",
    "ReviewStatus",
    "RollEnd",
    "RollGrade",
    "RollStart",
    "RollSummary",
    "RollView",
    "RunEnd",
    "RunStart",
    "SchemaError",
    "Severity",
    "StoreConfig",
    "StoreError",
    "WriterStats",
    "points_for_defect",
]

"""Plain-Python records the pipeline hands to the store.

Every record is a frozen dataclass with a client-generated idempotency
``key`` (a UUID made when the record is made), so a record written twice, e.g.
once before a crash and once more from the journal, is stored once. Records
validate their values when constructed and raise
:class:`~station.store.errors.InvalidRecordError` on a bad one.

Positions are in millimetres from the roll's start (``along_mm``) and from the
web's left edge (``across_mm``); times are timezone-aware (UTC is stored).
"""

from __future__ import annotations

import dataclasses
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from station.store.errors import InvalidRecordError


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class ReviewStatus(StrEnum):
    """Where a defect stands in QA review."""

    UNREVIEWED = "unreviewed"
    CONFIRMED = "confirmed"
    FALSE_ALARM = "false_alarm"


class EventKind(StrEnum):
    """What an event records. The database accepts other kinds too (new pipeline events)."""

    ALARM = "alarm"
    CAMERA_FAULT = "camera_fault"
    DROPPED_BLOCKS = "dropped_blocks"
    UNINSPECTED_STRETCH = "uninspected_stretch"
    MODEL_CHANGE = "model_change"
    IMAGE_STORE_FULL = "image_store_full"
    IMAGE_STORE_RECOVERED = "image_store_recovered"
    STORE_QUEUE_OVERFLOW = "store_queue_overflow"
    DATABASE_OUTAGE = "database_outage"
    ROLL_RECOVERED = "roll_recovered"


class Severity(StrEnum):
    """How urgent an event is."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


def _check_finite(owner: object, name: str, value: float, *, minimum: float | None = None) -> None:
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidRecordError(
            f"{type(owner).__name__}.{name} must be a finite number, got {value!r}"
        )
    if minimum is not None and value < minimum:
        raise InvalidRecordError(
            f"{type(owner).__name__}.{name} must be >= {minimum}, got {value!r}"
        )


def _check_text(owner: object, name: str, value: str | None, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not value.strip() or len(value) > 128:
        raise InvalidRecordError(
            f"{type(owner).__name__}.{name} must be a non-empty name of at most 128 characters, "
            f"got {value!r}"
        )


def _check_time(
    owner: object, name: str, value: datetime | None, *, optional: bool = False
) -> None:
    if value is None and optional:
        return
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidRecordError(
            f"{type(owner).__name__}.{name} must be a timezone-aware datetime, got {value!r}"
        )


def _check_key(
    owner: object, name: str, value: uuid.UUID | None, *, optional: bool = False
) -> None:
    if value is None and optional:
        return
    if not isinstance(value, uuid.UUID):
        raise InvalidRecordError(
            f"{type(owner).__name__}.{name} must be a uuid.UUID, got {value!r}"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelVersionInfo:
    """The model a run inspects with.

    Attributes:
        sha256: Hash of the model file (or engine); identifies the version.
        name: Human-readable name, e.g. the file name.
        classes: Fabric classes the multi-class model knows.
        threshold: Anomaly-score threshold from calibration.
    """

    sha256: str
    name: str
    classes: tuple[str, ...]
    threshold: float

    def __post_init__(self) -> None:
        if not (isinstance(self.sha256, str) and 8 <= len(self.sha256) <= 64):
            raise InvalidRecordError(
                f"ModelVersionInfo.sha256 must be a hex digest, got {self.sha256!r}"
            )
        _check_text(self, "name", self.name)
        if not isinstance(self.classes, tuple) or not all(isinstance(c, str) for c in self.classes):
            raise InvalidRecordError("ModelVersionInfo.classes must be a tuple of class names")
        _check_finite(self, "threshold", self.threshold)


SAME_LOT_RULES = ("continue", "new")


@dataclass(frozen=True, slots=True, kw_only=True)
class RollStart:
    """A roll goes on the inspection frame.

    Attributes:
        lot_number: The roll's lot number (what QA looks a roll up by).
        station: Name of the inspecting station.
        fabric_type: Fabric type (recipe) name.
        width_mm: Fabric width, used for grading.
        fabric_recipe: Optional recipe settings stored with the fabric type.
        same_lot: What the writer does when this station already has a roll with this
            lot number: ``new`` opens another roll, ``continue`` continues the newest
            one as a new inspection run (decided when the record is written, so it
            also holds for a start journaled while the database was unreachable).
    """

    lot_number: str
    station: str
    fabric_type: str
    width_mm: float
    started_at: datetime = field(default_factory=utc_now)
    fabric_recipe: Mapping[str, Any] | None = None
    same_lot: str = "new"
    key: uuid.UUID = field(default_factory=uuid.uuid4)

    def __post_init__(self) -> None:
        _check_text(self, "lot_number", self.lot_number)
        if self.same_lot not in SAME_LOT_RULES:
            raise InvalidRecordError(
                f"RollStart.same_lot must be one of {', '.join(SAME_LOT_RULES)}, "
                f"got {self.same_lot!r}"
            )
        _check_text(self, "station", self.station)
        _check_text(self, "fabric_type", self.fabric_type)
        _check_finite(self, "width_mm", self.width_mm, minimum=0)
        if self.width_mm <= 0:
            raise InvalidRecordError(f"RollStart.width_mm must be > 0, got {self.width_mm!r}")
        _check_time(self, "started_at", self.started_at)
        _check_key(self, "key", self.key)


@dataclass(frozen=True, slots=True, kw_only=True)
class RollEnd:
    """A roll comes off the frame; records how much of it was inspected."""

    roll_key: uuid.UUID
    length_inspected_mm: float
    ended_at: datetime = field(default_factory=utc_now)

    def __post_init__(self) -> None:
        _check_key(self, "roll_key", self.roll_key)
        _check_finite(self, "length_inspected_mm", self.length_inspected_mm, minimum=0)
        _check_time(self, "ended_at", self.ended_at)


@dataclass(frozen=True, slots=True, kw_only=True)
class RollRecovery:
    """A station starts: close its rolls that a crash left running.

    Written before the station's next :class:`RollStart`. Each roll of ``station``
    without an end, started before ``requested_at``, is closed with the inspected
    length of its runs' last :class:`CoverageCheckpoint`; the stretch from the last
    inspected line to the last acquired one becomes an uninspected stretch.
    """

    station: str
    requested_at: datetime = field(default_factory=utc_now)
    key: uuid.UUID = field(default_factory=uuid.uuid4)

    def __post_init__(self) -> None:
        _check_text(self, "station", self.station)
        _check_time(self, "requested_at", self.requested_at)
        _check_key(self, "key", self.key)


@dataclass(frozen=True, slots=True, kw_only=True)
class CoverageCheckpoint:
    """How far inspection of a run got; the run's row keeps the newest one.

    Positions are from the run's start (the writer adds where the run starts on
    the roll). Everything before ``inspected_until_mm`` is inspected or recorded
    as an uninspected stretch; the lines from there to ``acquired_until_mm`` were
    acquired but not yet accounted for.

    Attributes:
        inspected_until_line: First line not yet inspected nor marked uninspected.
        inspected_until_mm: Its position.
        acquired_until_mm: Position of the end of the last line acquired.
        inspected_mm, uninspected_mm: Totals so far.
    """

    roll_key: uuid.UUID
    run_key: uuid.UUID
    inspected_until_line: int
    inspected_until_mm: float
    acquired_until_mm: float
    inspected_mm: float
    uninspected_mm: float
    taken_at: datetime = field(default_factory=utc_now)
    key: uuid.UUID = field(default_factory=uuid.uuid4)

    def __post_init__(self) -> None:
        _check_key(self, "roll_key", self.roll_key)
        _check_key(self, "run_key", self.run_key)
        if not isinstance(self.inspected_until_line, int) or self.inspected_until_line < 0:
            raise InvalidRecordError(
                "CoverageCheckpoint.inspected_until_line must be an int >= 0, "
                f"got {self.inspected_until_line!r}"
            )
        for name in ("inspected_until_mm", "acquired_until_mm"):
            _check_finite(self, name, getattr(self, name))
        for name in ("inspected_mm", "uninspected_mm"):
            _check_finite(self, name, getattr(self, name), minimum=0)
        _check_time(self, "taken_at", self.taken_at)
        _check_key(self, "key", self.key)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunStart:
    """Inspection of a roll starts with one model (a model change starts a new run)."""

    roll_key: uuid.UUID
    station: str
    model: ModelVersionInfo
    camera_serial: str | None = None
    camera_model: str | None = None
    settings: Mapping[str, Any] | None = None
    started_at: datetime = field(default_factory=utc_now)
    key: uuid.UUID = field(default_factory=uuid.uuid4)
    recipe_name: str | None = None  # the recipe the roll runs (station/store/recipes.py)
    recipe_version: int | None = None

    def __post_init__(self) -> None:
        _check_key(self, "roll_key", self.roll_key)
        _check_text(self, "station", self.station)
        _check_text(self, "recipe_name", self.recipe_name, optional=True)
        if (self.recipe_name is None) != (self.recipe_version is None) or not (
            self.recipe_version is None
            or (isinstance(self.recipe_version, int) and self.recipe_version >= 1)
        ):
            raise InvalidRecordError(
                "RunStart.recipe_name and recipe_version must be given together "
                f"(a version >= 1), got {self.recipe_name!r} and {self.recipe_version!r}"
            )
        _check_text(self, "camera_serial", self.camera_serial, optional=True)
        _check_text(self, "camera_model", self.camera_model, optional=True)
        if not isinstance(self.model, ModelVersionInfo):
            raise InvalidRecordError("RunStart.model must be a ModelVersionInfo")
        _check_time(self, "started_at", self.started_at)
        _check_key(self, "key", self.key)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunEnd:
    """An inspection run ends."""

    run_key: uuid.UUID
    ended_at: datetime = field(default_factory=utc_now)

    def __post_init__(self) -> None:
        _check_key(self, "run_key", self.run_key)
        _check_time(self, "ended_at", self.ended_at)


@dataclass(frozen=True, slots=True, kw_only=True)
class DefectRecord:
    """One defect found on a roll.

    Attributes:
        roll_key: Key of the roll's :class:`RollStart`.
        along_mm: Centre of the defect along the roll, from the roll's start.
        across_mm: Centre of the defect across the web, from its left edge.
        length_mm: Extent along the roll.
        width_mm: Extent across the roll.
        area_mm2: Area of the defective pixels.
        peak_score: Highest anomaly score inside the defect.
        points: 4-point-system points (``station.grading.points_for_defect``).
        fabric_class: Fabric class the model scored the defect under.
        is_hole: True for holes and openings.
        defect_type: Type label, e.g. from a classifier; QA may relabel it.
        run_key: Key of the :class:`RunStart` that found it.
    """

    roll_key: uuid.UUID
    along_mm: float
    across_mm: float
    length_mm: float
    width_mm: float
    area_mm2: float
    peak_score: float
    points: int
    fabric_class: str
    is_hole: bool = False
    defect_type: str | None = None
    run_key: uuid.UUID | None = None
    detected_at: datetime = field(default_factory=utc_now)
    key: uuid.UUID = field(default_factory=uuid.uuid4)

    def __post_init__(self) -> None:
        _check_key(self, "roll_key", self.roll_key)
        _check_key(self, "run_key", self.run_key, optional=True)
        _check_key(self, "key", self.key)
        _check_finite(self, "along_mm", self.along_mm)
        _check_finite(self, "across_mm", self.across_mm)
        for name in ("length_mm", "width_mm", "area_mm2"):
            _check_finite(self, name, getattr(self, name), minimum=0)
        _check_finite(self, "peak_score", self.peak_score)
        if (
            not isinstance(self.points, int)
            or isinstance(self.points, bool)
            or not 0 <= self.points <= 4
        ):
            raise InvalidRecordError(
                f"DefectRecord.points must be an int 0..4, got {self.points!r}"
            )
        _check_text(self, "fabric_class", self.fabric_class)
        _check_text(self, "defect_type", self.defect_type, optional=True)
        _check_time(self, "detected_at", self.detected_at)


@dataclass(frozen=True, slots=True, kw_only=True)
class EventRecord:
    """Something QA must know about: alarm, camera fault, dropped blocks, a gap, ...

    Attributes:
        kind: What happened (an :class:`EventKind` or another short name).
        message: One line for people.
        from_mm, to_mm: Stretch of the roll concerned (e.g. an uninspected stretch).
        count: A count that goes with the event (e.g. dropped blocks).
        details: Further JSON-serialisable data.
    """

    kind: str
    message: str
    severity: Severity = Severity.INFO
    station: str | None = None
    roll_key: uuid.UUID | None = None
    run_key: uuid.UUID | None = None
    from_mm: float | None = None
    to_mm: float | None = None
    count: int | None = None
    details: Mapping[str, Any] | None = None
    occurred_at: datetime = field(default_factory=utc_now)
    key: uuid.UUID = field(default_factory=uuid.uuid4)

    def __post_init__(self) -> None:
        if not isinstance(self.kind, str) or not 0 < len(self.kind) <= 32:
            raise InvalidRecordError(
                f"EventRecord.kind must be a name of 1..32 characters, got {self.kind!r}"
            )
        if not isinstance(self.message, str):
            raise InvalidRecordError("EventRecord.message must be a string")
        object.__setattr__(self, "severity", Severity(self.severity))
        _check_text(self, "station", self.station, optional=True)
        _check_key(self, "roll_key", self.roll_key, optional=True)
        _check_key(self, "run_key", self.run_key, optional=True)
        _check_key(self, "key", self.key)
        for name in ("from_mm", "to_mm"):
            if getattr(self, name) is not None:
                _check_finite(self, name, getattr(self, name))
        _check_time(self, "occurred_at", self.occurred_at)


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredDefect:
    """A defect after its images went to the image store: what a defect row holds."""

    record: DefectRecord
    crop_path: str | None = None
    crop_sha256: str | None = None
    heatmap_path: str | None = None
    heatmap_sha256: str | None = None
    image_bytes: int = 0


StoreItem = (
    RollStart
    | RollEnd
    | RunStart
    | RunEnd
    | StoredDefect
    | EventRecord
    | RollRecovery
    | CoverageCheckpoint
)
LIFECYCLE_RECORDS = (RollStart, RollEnd, RunStart, RunEnd, RollRecovery, CoverageCheckpoint)
"""Records the writer never drops (:meth:`DefectWriter.submit_lifecycle`)."""

_PAYLOAD_TYPES: dict[str, type] = {
    "roll_start": RollStart,
    "roll_end": RollEnd,
    "run_start": RunStart,
    "run_end": RunEnd,
    "event": EventRecord,
    "defect": StoredDefect,
    "roll_recovery": RollRecovery,
    "coverage_checkpoint": CoverageCheckpoint,
}
_TYPE_NAMES = {cls: name for name, cls in _PAYLOAD_TYPES.items()}


def item_key(item: StoreItem) -> uuid.UUID:
    """The idempotency key an item is acknowledged by."""
    if isinstance(item, StoredDefect):
        return item.record.key
    if isinstance(item, RollEnd):
        return item.roll_key
    if isinstance(item, RunEnd):
        return item.run_key
    return item.key


def _encode(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple):
        return [_encode(v) for v in value]
    if isinstance(value, Mapping):
        return dict(value)
    return value


def _decode_fields(cls: type, data: Mapping[str, Any]) -> Any:
    values: dict[str, Any] = {}
    for name, raw in data.items():
        if raw is None:
            values[name] = None
        elif name == "key" or name.endswith("_key"):
            values[name] = uuid.UUID(raw)
        elif name.endswith("_at"):
            values[name] = datetime.fromisoformat(raw)
        elif name == "model":
            values[name] = _decode_fields(ModelVersionInfo, raw)
        elif name == "record":
            values[name] = _decode_fields(DefectRecord, raw)
        elif name == "classes":
            values[name] = tuple(raw)
        else:
            values[name] = raw
    return cls(**values)


def item_to_payload(item: StoreItem) -> dict[str, Any]:
    """A JSON-serialisable dict of an item, tagged with its type (for the journal)."""
    return {"type": _TYPE_NAMES[type(item)], "data": _encode(item)}


def payload_to_item(payload: Mapping[str, Any]) -> StoreItem:
    """Inverse of :func:`item_to_payload`.

    Raises:
        InvalidRecordError: the payload names an unknown type or holds invalid values.
    """
    cls = _PAYLOAD_TYPES.get(payload.get("type", ""))
    if cls is None:
        raise InvalidRecordError(f"unknown journal record type {payload.get('type')!r}")
    try:
        return _decode_fields(cls, payload["data"])
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidRecordError(
            f"journal record of type {payload['type']} is invalid: {error}"
        ) from None

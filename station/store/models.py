"""SQLAlchemy 2.0 tables of the defect database.

The same models serve SQLite and PostgreSQL; the schema itself is created by
the Alembic migrations in ``station/store/migrations`` (a test checks that the
two agree on both databases). Every record from the pipeline carries a unique
``key`` so writing it twice stores it once.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
REVIEW_STATUSES = ("unreviewed", "confirmed", "false_alarm")
REVIEW_ACTIONS = ("confirm", "reject", "relabel")


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC.

    SQLite has no time zones: values are stored as naive UTC so that their text
    sorts and compares in time order, and come back as aware UTC datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store only accepts aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: UtcDateTime(),
        uuid.UUID: Uuid(as_uuid=True),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
    }


class Station(Base):
    __tablename__ = "stations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime]


class Camera(Base):
    __tablename__ = "cameras"
    __table_args__ = (UniqueConstraint("station_id", "serial"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    serial: Mapped[str] = mapped_column(String(128))
    model: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime]


class FabricType(Base):
    """A fabric type and its recipe (inspection settings)."""

    __tablename__ = "fabric_types"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    recipe: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]


class ModelVersion(Base):
    __tablename__ = "model_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    classes: Mapped[list[str]]
    threshold: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime]


class Roll(Base):
    __tablename__ = "rolls"
    __table_args__ = (
        Index(None, "station_id", "started_at"),
        Index(None, "started_at"),
        CheckConstraint("width_mm > 0", name="width_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[uuid.UUID] = mapped_column(unique=True)
    lot_number: Mapped[str] = mapped_column(String(128), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    fabric_type_id: Mapped[int] = mapped_column(ForeignKey("fabric_types.id"))
    width_mm: Mapped[float] = mapped_column(Float)
    length_inspected_mm: Mapped[float | None] = mapped_column(Float)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class InspectionRun(Base):
    __tablename__ = "inspection_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[uuid.UUID] = mapped_column(unique=True)
    roll_id: Mapped[int] = mapped_column(ForeignKey("rolls.id"), index=True)
    camera_id: Mapped[int | None] = mapped_column(ForeignKey("cameras.id"))
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    settings: Mapped[dict[str, Any] | None]
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    # 0003: where the run starts on the roll and its latest coverage checkpoint (roll mm).
    start_mm: Mapped[float | None] = mapped_column(Float)
    inspected_until_line: Mapped[int | None] = mapped_column(Integer)
    inspected_until_mm: Mapped[float | None] = mapped_column(Float)
    acquired_until_mm: Mapped[float | None] = mapped_column(Float)
    inspected_mm: Mapped[float | None] = mapped_column(Float)
    uninspected_mm: Mapped[float | None] = mapped_column(Float)
    checkpoint_at: Mapped[datetime | None]
    recipe_name: Mapped[str | None] = mapped_column(String(128))  # 0004: the recipe run
    recipe_version: Mapped[int | None] = mapped_column(Integer)


class RollContinuation(Base):
    """A later start of a lot that continues an existing roll of the station (0003).

    Records of that start name ``key`` as their roll; the writer stores them on
    ``roll_id`` with positions shifted by ``start_mm`` (where the roll's earlier
    runs ended), and ends the roll with ``base_inspected_mm`` plus what this
    run inspected.
    """

    __tablename__ = "roll_continuations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[uuid.UUID] = mapped_column(unique=True)
    roll_id: Mapped[int] = mapped_column(ForeignKey("rolls.id"), index=True)
    start_mm: Mapped[float] = mapped_column(Float)
    base_inspected_mm: Mapped[float] = mapped_column(Float)
    started_at: Mapped[datetime]


class Defect(Base):
    __tablename__ = "defects"
    __table_args__ = (
        # A roll's defect page in roll order, by score, or by time (keyset paging).
        Index(None, "roll_id", "along_mm", "id"),
        Index(None, "roll_id", "peak_score", "id"),
        Index(None, "roll_id", "detected_at", "id"),
        # Plant-wide queries by time, fabric, review status and score.
        Index(None, "detected_at", "id"),
        Index(None, "fabric_class", "detected_at"),
        Index(None, "review_status", "detected_at"),
        Index(None, "peak_score"),
        CheckConstraint(
            "review_status IN ('unreviewed', 'confirmed', 'false_alarm')", name="review_status"
        ),
        CheckConstraint("points >= 0 AND points <= 4", name="points_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[uuid.UUID] = mapped_column(unique=True)
    roll_id: Mapped[int] = mapped_column(ForeignKey("rolls.id"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_runs.id"), index=True)
    detected_at: Mapped[datetime]
    along_mm: Mapped[float] = mapped_column(Float)
    across_mm: Mapped[float] = mapped_column(Float)
    length_mm: Mapped[float] = mapped_column(Float)
    width_mm: Mapped[float] = mapped_column(Float)
    area_mm2: Mapped[float] = mapped_column(Float)
    peak_score: Mapped[float] = mapped_column(Float)
    fabric_class: Mapped[str] = mapped_column(String(128))
    is_hole: Mapped[bool] = mapped_column(Boolean)
    points: Mapped[int] = mapped_column(SmallInteger)
    defect_type: Mapped[str | None] = mapped_column(String(128))
    crop_path: Mapped[str | None] = mapped_column(String(512))
    crop_sha256: Mapped[str | None] = mapped_column(String(64))
    heatmap_path: Mapped[str | None] = mapped_column(String(512))
    heatmap_sha256: Mapped[str | None] = mapped_column(String(64))
    image_bytes: Mapped[int] = mapped_column(Integer)
    images_deleted_at: Mapped[datetime | None]
    review_status: Mapped[str] = mapped_column(String(16))
    reviewer: Mapped[str | None] = mapped_column(String(128))
    reviewed_at: Mapped[datetime | None]
    review_comment: Mapped[str | None] = mapped_column(Text)


class ReviewAction(Base):
    """Every review action, who did it and when (the defect row holds the latest state)."""

    __tablename__ = "review_actions"
    __table_args__ = (CheckConstraint("action IN ('confirm', 'reject', 'relabel')", name="action"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    defect_id: Mapped[int] = mapped_column(ForeignKey("defects.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    reviewer: Mapped[str] = mapped_column(String(128))
    acted_at: Mapped[datetime]
    defect_type: Mapped[str | None] = mapped_column(String(128))
    comment: Mapped[str | None] = mapped_column(Text)


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        Index(None, "roll_id", "occurred_at"),
        Index(None, "kind", "occurred_at"),
        Index(None, "occurred_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[uuid.UUID] = mapped_column(unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    roll_id: Mapped[int | None] = mapped_column(ForeignKey("rolls.id"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_runs.id"))
    from_mm: Mapped[float | None] = mapped_column(Float)
    to_mm: Mapped[float | None] = mapped_column(Float)
    count: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict[str, Any] | None]
    occurred_at: Mapped[datetime]


class User(Base):
    """A person who signs in to the station's windows (see :mod:`station.store.users`).

    ``password_hash`` holds the scrypt parameters, the salt and the hash together,
    so the parameters can be raised later without breaking older passwords.
    """

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('operator', 'qa', 'engineer')", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    password_changed_at: Mapped[datetime]


# --- Recipes (station/store/recipes.py): fabric article -> model and its settings ---


class Recipe(Base):
    """One published version of a recipe: which model, and the settings to run it with.

    A new publish of the same name is the next ``version``; a retired version is
    never chosen again. ``model_sha256`` names the model in the model store.
    """

    __tablename__ = "recipes"
    __table_args__ = (
        UniqueConstraint("name", "version"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("threshold_factor > 0", name="threshold_factor_positive"),
        CheckConstraint(
            "sensitivity_min > 0 AND sensitivity_min <= sensitivity_max", name="sensitivity_range"
        ),
        CheckConstraint("grade_limit_points_per_100yd2 >= 0", name="grade_limit"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    model_sha256: Mapped[str] = mapped_column(String(64))
    threshold_factor: Mapped[float] = mapped_column(Float)
    sensitivity_min: Mapped[float] = mapped_column(Float)
    sensitivity_max: Mapped[float] = mapped_column(Float)
    grade_limit_points_per_100yd2: Mapped[float] = mapped_column(Float)
    published_by: Mapped[str] = mapped_column(String(128))
    published_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]


class RecipeArticle(Base):
    """A fabric article one recipe version covers."""

    __tablename__ = "recipe_articles"

    recipe_id: Mapped[int] = mapped_column(
        ForeignKey("recipes.id", ondelete="CASCADE"), primary_key=True
    )
    article: Mapped[str] = mapped_column(String(128), primary_key=True, index=True)

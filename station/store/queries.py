"""QA queries: rolls, defect pages with keyset paging, events, summaries and grades."""

from __future__ import annotations

import base64
import json
import math
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Select, func, or_, select, tuple_
from sqlalchemy.orm import aliased

from station.store.errors import AmbiguousRollError, InvalidQueryError, NotFoundError
from station.store.models import (
    Defect,
    Event,
    FabricType,
    InspectionRun,
    Roll,
    RollContinuation,
    Station,
)
from station.store.records import ReviewStatus
from station.store.views import (
    DefectOrder,
    DefectPage,
    DefectQuery,
    DefectView,
    EventView,
    RollView,
)

MAX_PAGE_SIZE = 1000
_RUN = aliased(InspectionRun)
_ORDER_COLUMNS = {
    DefectOrder.ALONG: (Defect.along_mm, False),
    DefectOrder.NEWEST: (Defect.detected_at, True),
    DefectOrder.SCORE: (Defect.peak_score, True),
}

_DEFECT_COLUMNS = (
    Defect.id,
    Defect.key,
    Roll.key.label("roll_key"),
    Roll.lot_number,
    _RUN.key.label("run_key"),
    Defect.detected_at,
    Defect.along_mm,
    Defect.across_mm,
    Defect.length_mm,
    Defect.width_mm,
    Defect.area_mm2,
    Defect.peak_score,
    Defect.fabric_class,
    Defect.is_hole,
    Defect.points,
    Defect.defect_type,
    Defect.crop_path,
    Defect.crop_sha256,
    Defect.heatmap_path,
    Defect.heatmap_sha256,
    Defect.images_deleted_at,
    Defect.review_status,
    Defect.reviewer,
    Defect.reviewed_at,
    Defect.review_comment,
)


def roll_key_condition(roll_key: uuid.UUID) -> ColumnElement[bool]:
    """The roll named by ``roll_key``: its own key, or the key of a run that continued it."""
    continued = select(RollContinuation.roll_id).where(RollContinuation.key == roll_key)
    return or_(Roll.key == roll_key, Roll.id.in_(continued))


def defect_select() -> Select[Any]:
    """SELECT of every :class:`DefectView` column, joined to the roll and run."""
    return (
        select(*_DEFECT_COLUMNS)
        .join(Roll, Defect.roll_id == Roll.id)
        .outerjoin(_RUN, Defect.run_id == _RUN.id)
    )


def defect_view(row: Any) -> DefectView:
    """A :class:`DefectView` from a row of :func:`defect_select`."""
    values = row._asdict()
    values.pop("id")
    values["review_status"] = ReviewStatus(values["review_status"])
    return DefectView(**values)


def _roll_select() -> Select[Any]:
    return (
        select(
            Roll.key,
            Roll.lot_number,
            Station.name.label("station"),
            FabricType.name.label("fabric_type"),
            Roll.width_mm,
            Roll.length_inspected_mm,
            Roll.started_at,
            Roll.ended_at,
        )
        .join(Station, Roll.station_id == Station.id)
        .join(FabricType, Roll.fabric_type_id == FabricType.id)
    )


def _encode_cursor(order: DefectOrder, value: Any, row_id: int) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = json.dumps([order.value, value, row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, order: DefectOrder) -> tuple[Any, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        cursor_order, value, row_id = json.loads(raw)
        if cursor_order != order.value or not isinstance(row_id, int):
            raise ValueError("cursor was made for another order")
        if order is DefectOrder.NEWEST:
            value = datetime.fromisoformat(value)
        elif not isinstance(value, int | float):
            raise ValueError("bad value")
    except (ValueError, TypeError, json.JSONDecodeError) as error:
        raise InvalidQueryError(
            f"invalid page cursor {cursor!r}: {error}",
            hint="pass the next_cursor of the previous page with the same filters and order",
        ) from None
    return value, row_id


def _filters(connection: Connection, query: DefectQuery) -> list[Any]:
    conditions: list[Any] = []
    if query.roll_key is not None:
        # The roll's id as a constant lets the planner walk the (roll_id, sort column, id)
        # index in order and stop after one page, instead of sorting the whole roll.
        roll_id = connection.execute(
            select(Roll.id).where(roll_key_condition(query.roll_key))
        ).scalar()
        conditions.append(Defect.roll_id == (roll_id if roll_id is not None else -1))
    if query.station is not None:
        station_rolls = select(Roll.id).join(Station, Roll.station_id == Station.id)
        conditions.append(Defect.roll_id.in_(station_rolls.where(Station.name == query.station)))
    if query.since is not None:
        conditions.append(Defect.detected_at >= query.since)
    if query.until is not None:
        conditions.append(Defect.detected_at < query.until)
    if query.fabric_class is not None:
        conditions.append(Defect.fabric_class == query.fabric_class)
    if query.min_score is not None:
        conditions.append(Defect.peak_score >= query.min_score)
    if query.max_score is not None:
        conditions.append(Defect.peak_score <= query.max_score)
    if query.review_status is not None:
        conditions.append(
            Defect.review_status.in_([ReviewStatus(s).value for s in query.review_status])
        )
    return conditions


def _check_query(query: DefectQuery) -> None:
    if not 1 <= query.limit <= MAX_PAGE_SIZE:
        raise InvalidQueryError(
            f"page size must be 1..{MAX_PAGE_SIZE}, got {query.limit}",
            hint="ask for smaller pages and follow next_cursor",
        )
    for name in ("min_score", "max_score"):
        value = getattr(query, name)
        if value is not None and not math.isfinite(value):
            raise InvalidQueryError(f"{name} must be a finite number, got {value!r}")
    for name in ("since", "until"):
        value = getattr(query, name)
        if value is not None and value.tzinfo is None:
            raise InvalidQueryError(
                f"{name} must be a timezone-aware datetime",
                hint="use datetime.now(UTC) or attach a tzinfo",
            )


class QueriesMixin:
    """Read methods of :class:`~station.store.repository.DefectRepository`."""

    _engine: Engine

    def get_roll(
        self, *, roll_key: uuid.UUID | None = None, lot_number: str | None = None
    ) -> RollView:
        """One roll, by key or by lot number.

        Raises:
            NotFoundError: no such roll.
            AmbiguousRollError: several rolls carry the lot number (pass the key).
        """
        if (roll_key is None) == (lot_number is None):
            raise InvalidQueryError("give exactly one of roll_key and lot_number")
        statement = _roll_select().where(
            roll_key_condition(roll_key) if roll_key else Roll.lot_number == lot_number
        )
        with self._engine.connect() as connection:
            rows = connection.execute(statement.limit(20)).all()
        if not rows:
            asked = f"key {roll_key}" if roll_key else f"lot number {lot_number!r}"
            raise NotFoundError(
                f"no roll with {asked}",
                hint="list the rolls with `station report --list` or check the spelling",
            )
        if len(rows) > 1:
            keys = ", ".join(f"{row.key} (started {row.started_at:%Y-%m-%d %H:%M})" for row in rows)
            raise AmbiguousRollError(
                f"lot number {lot_number!r} was inspected {len(rows)} times: {keys}",
                hint="pass the roll key instead of the lot number",
            )
        return RollView(**rows[0]._asdict())

    def list_rolls(
        self,
        *,
        station: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[RollView]:
        """Rolls, newest first, optionally of one station and started in a time window."""
        statement = _roll_select().order_by(Roll.started_at.desc(), Roll.id.desc()).limit(limit)
        if station is not None:
            statement = statement.where(Station.name == station)
        if since is not None:
            statement = statement.where(Roll.started_at >= since)
        if until is not None:
            statement = statement.where(Roll.started_at < until)
        with self._engine.connect() as connection:
            return [RollView(**row._asdict()) for row in connection.execute(statement)]

    def find_defects(self, query: DefectQuery) -> DefectPage:
        """One page of defects matching ``query``; follow ``next_cursor`` for the next.

        Paging is by keyset (the last row's sort value and id), so a page deep into
        100,000 defects costs the same as the first and rows added meanwhile do not
        shift pages.

        Raises:
            InvalidQueryError: bad page size, cursor or filter value.
        """
        _check_query(query)
        column, descending = _ORDER_COLUMNS[DefectOrder(query.order)]
        with self._engine.connect() as connection:
            statement = defect_select().where(*_filters(connection, query))
            if query.cursor is not None:
                value, row_id = _decode_cursor(query.cursor, DefectOrder(query.order))
                position = tuple_(column, Defect.id)
                statement = statement.where(
                    position < (value, row_id) if descending else position > (value, row_id)
                )
            order = (column.desc(), Defect.id.desc()) if descending else (column, Defect.id)
            rows = connection.execute(statement.order_by(*order).limit(query.limit + 1)).all()
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        next_cursor = None
        if more:
            last = rows[-1]
            sort_value = {
                DefectOrder.ALONG: last.along_mm,
                DefectOrder.NEWEST: last.detected_at,
                DefectOrder.SCORE: last.peak_score,
            }[DefectOrder(query.order)]
            next_cursor = _encode_cursor(DefectOrder(query.order), sort_value, last.id)
        return DefectPage(items=tuple(defect_view(row) for row in rows), next_cursor=next_cursor)

    def count_defects(self, query: DefectQuery) -> int:
        """How many defects match ``query``'s filters (its paging is ignored)."""
        _check_query(query)
        with self._engine.connect() as connection:
            statement = select(func.count()).select_from(Defect).where(*_filters(connection, query))
            return int(connection.execute(statement).scalar_one())

    def get_defect(self, key: uuid.UUID) -> DefectView:
        """One defect by key.

        Raises:
            NotFoundError: no defect has this key.
        """
        with self._engine.connect() as connection:
            row = connection.execute(defect_select().where(Defect.key == key)).first()
        if row is None:
            raise NotFoundError(
                f"no defect with key {key}", hint="check the key; it may not be written yet"
            )
        return defect_view(row)

    def list_events(
        self,
        *,
        roll_key: uuid.UUID | None = None,
        kinds: tuple[str, ...] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
    ) -> list[EventView]:
        """Events in time order, optionally of one roll, of some kinds, in a time window."""
        statement = (
            select(
                Event.key,
                Event.kind,
                Event.severity,
                Event.message,
                Station.name.label("station"),
                Roll.key.label("roll_key"),
                Event.from_mm,
                Event.to_mm,
                Event.count,
                Event.details,
                Event.occurred_at,
            )
            .outerjoin(Station, Event.station_id == Station.id)
            .outerjoin(Roll, Event.roll_id == Roll.id)
            .order_by(Event.occurred_at, Event.id)
            .limit(limit)
        )
        if roll_key is not None:
            statement = statement.where(roll_key_condition(roll_key))
        if kinds is not None:
            statement = statement.where(Event.kind.in_(kinds))
        if since is not None:
            statement = statement.where(Event.occurred_at >= since)
        if until is not None:
            statement = statement.where(Event.occurred_at < until)
        with self._engine.connect() as connection:
            return [EventView(**row._asdict()) for row in connection.execute(statement)]

"""Record factories, PNG bytes and PostgreSQL schema helpers for the store tests."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import numpy as np
from PIL import Image
from sqlalchemy import Engine, create_engine, func, make_url, select, text

from station.store.models import Base
from station.store.records import DefectRecord, ModelVersionInfo, RollStart

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
MODEL = ModelVersionInfo(
    sha256="c0ffee" * 10 + "abcd",
    name="cras-denim.engine",
    classes=("denim", "twill"),
    threshold=0.42,
)


def png_bytes(seed: int, *, size: int = 16) -> bytes:
    """A small seeded random grey PNG."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def roll_start(
    lot: str = "LOT-1",
    *,
    station: str = "station-a",
    width_mm: float = 1524.0,
    fabric_type: str = "denim",
    started_at: datetime = T0,
) -> RollStart:
    return RollStart(
        lot_number=lot,
        station=station,
        fabric_type=fabric_type,
        width_mm=width_mm,
        started_at=started_at,
    )


def defect(
    roll_key: uuid.UUID,
    index: int,
    *,
    run_key: uuid.UUID | None = None,
    along_mm: float | None = None,
    score: float | None = None,
    points: int = 1,
    length_mm: float = 20.0,
    fabric_class: str = "denim",
    detected_at: datetime | None = None,
) -> DefectRecord:
    """A defect whose values follow from ``index`` (so tests can predict orders)."""
    return DefectRecord(
        roll_key=roll_key,
        run_key=run_key,
        along_mm=float(index * 10.0 if along_mm is None else along_mm),
        across_mm=100.0 + index % 7,
        length_mm=length_mm,
        width_mm=4.0,
        area_mm2=30.0 + index,
        peak_score=float(0.5 + (index * 37 % 100) / 200 if score is None else score),
        points=points,
        fabric_class=fabric_class,
        detected_at=detected_at or T0 + timedelta(seconds=index),
    )


def pg_url_in_schema(base_url: str, schema: str, *, application_name: str | None = None) -> str:
    """``base_url`` with its connections' search_path set to ``schema``."""
    query = {"options": f"-csearch_path={schema}"}
    if application_name:
        query["application_name"] = application_name
    return make_url(base_url).update_query_dict(query).render_as_string(hide_password=False)


def with_port(url: str, port: int) -> str:
    return make_url(url).set(port=port).render_as_string(hide_password=False)


def create_pg_schema(base_url: str) -> str:
    schema = f"store_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(base_url)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return schema


def drop_pg_schema(base_url: str, schema: str) -> None:
    engine = create_engine(base_url)
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def count_keys(engine: Engine, table: str, keys: Iterable[uuid.UUID]) -> dict[uuid.UUID, int]:
    """How often each key occurs in ``table`` (keys not found are absent)."""
    table_obj = Base.metadata.tables[table]
    keys = list(keys)
    found: dict[uuid.UUID, int] = {}
    with engine.connect() as connection:
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            rows = connection.execute(
                select(table_obj.c.key, func.count())
                .where(table_obj.c.key.in_(chunk))
                .group_by(table_obj.c.key)
            )
            found.update({row[0]: row[1] for row in rows})
    return found

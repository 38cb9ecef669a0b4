"""Records validate their values and survive the journal's JSON round trip."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime

import pytest

from station.store.errors import InvalidRecordError
from station.store.record_queue import RecordQueue
from station.store.records import (
    DefectRecord,
    EventRecord,
    ModelVersionInfo,
    RollEnd,
    RollStart,
    RunEnd,
    RunStart,
    Severity,
    StoredDefect,
    item_key,
    item_to_payload,
    payload_to_item,
)

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def _defect(**changes) -> DefectRecord:
    values = dict(
        roll_key=uuid.uuid4(),
        along_mm=10.0,
        across_mm=5.0,
        length_mm=3.0,
        width_mm=2.0,
        area_mm2=4.0,
        peak_score=0.8,
        points=1,
        fabric_class="denim",
        detected_at=NOW,
    )
    return DefectRecord(**{**values, **changes})


@pytest.mark.parametrize(
    "changes",
    [
        {"along_mm": math.nan},
        {"length_mm": -1.0},
        {"points": 5},
        {"points": True},
        {"fabric_class": ""},
        {"detected_at": datetime(2025, 1, 1)},
        {"roll_key": "abc"},
        {"peak_score": math.inf},
    ],
)
def test_invalid_defect_values_raise(changes: dict) -> None:
    with pytest.raises(InvalidRecordError):
        _defect(**changes)


def test_other_records_validate_too() -> None:
    with pytest.raises(InvalidRecordError):
        RollStart(lot_number="L", station="s", fabric_type="f", width_mm=0.0)
    with pytest.raises(InvalidRecordError):
        RollStart(lot_number=" ", station="s", fabric_type="f", width_mm=10.0)
    with pytest.raises(InvalidRecordError):
        ModelVersionInfo(sha256="ab", name="m", classes=("a",), threshold=0.5)
    with pytest.raises(InvalidRecordError):
        EventRecord(kind="", message="x")
    with pytest.raises(ValueError):
        EventRecord(kind="alarm", message="x", severity="panic")  # type: ignore[arg-type]


def test_every_record_type_round_trips_through_a_payload() -> None:
    roll = RollStart(
        lot_number="L-1",
        station="s",
        fabric_type="denim",
        width_mm=1500.0,
        fabric_recipe={"threshold": 0.4},
        started_at=NOW,
    )
    model = ModelVersionInfo(sha256="ab" * 32, name="m", classes=("denim", "twill"), threshold=0.4)
    items = [
        roll,
        RunStart(
            roll_key=roll.key, station="s", model=model, camera_serial="c1", settings={"x": 1}
        ),
        StoredDefect(
            record=_defect(roll_key=roll.key, run_key=uuid.uuid4()),
            crop_path="a/b.png",
            crop_sha256="f" * 64,
            image_bytes=10,
        ),
        EventRecord(
            kind="uninspected_stretch",
            message="gap",
            severity=Severity.WARNING,
            roll_key=roll.key,
            from_mm=1.0,
            to_mm=2.5,
            details={"blocks": [1, 2]},
        ),
        RunEnd(run_key=uuid.uuid4(), ended_at=NOW),
        RollEnd(roll_key=roll.key, length_inspected_mm=100.0, ended_at=NOW),
    ]
    for item in items:
        assert payload_to_item(item_to_payload(item)) == item
    assert item_key(items[2]) == items[2].record.key and item_key(items[-1]) == roll.key
    with pytest.raises(InvalidRecordError):
        payload_to_item({"type": "mystery", "data": {}})
    with pytest.raises(InvalidRecordError):
        payload_to_item({"type": "roll_end", "data": {"roll_key": "nope"}})


def test_full_queue_drops_the_oldest_defect_never_a_roll_record() -> None:
    queue = RecordQueue(capacity=3)
    start = RollStart(lot_number="L", station="s", fabric_type="f", width_mm=1.0)
    queue.put(start, droppable=False)
    for index in range(5):
        queue.put(index, droppable=True)
    entries = queue.take(max_items=10, timeout_s=0)
    assert [e.record for e in entries] == [start, 3, 4]
    assert queue.dropped_total == 3
    dropped, last = queue.take_unreported_drops()
    assert dropped == 3 and last.record == 2
    assert queue.take_unreported_drops() == (0, None)
    for _ in range(4):
        queue.put(start, droppable=False)  # lifecycle records may exceed the capacity
    assert len(queue) == 4 and queue.dropped_total == 3

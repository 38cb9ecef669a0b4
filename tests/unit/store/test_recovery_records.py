"""The records of roll recovery: validation and the journal's round trip."""

from __future__ import annotations

import uuid

import pytest

from station.store.errors import InvalidRecordError
from station.store.records import (
    CoverageCheckpoint,
    RollRecovery,
    RollStart,
    item_to_payload,
    payload_to_item,
)


def _checkpoint(**changes) -> CoverageCheckpoint:
    values = {
        "roll_key": uuid.uuid4(),
        "run_key": uuid.uuid4(),
        "inspected_until_line": 15,
        "inspected_until_mm": 1.5,
        "acquired_until_mm": 2.5,
        "inspected_mm": 1.0,
        "uninspected_mm": 0.5,
    }
    return CoverageCheckpoint(**{**values, **changes})


def test_new_records_survive_the_journal_format() -> None:
    items = [
        RollRecovery(station="station-a"),
        _checkpoint(),
        RollStart(lot_number="L", station="s", fabric_type="f", width_mm=1, same_lot="continue"),
    ]
    for item in items:
        assert payload_to_item(item_to_payload(item)) == item


def test_a_roll_start_journaled_before_same_lot_existed_opens_a_new_roll() -> None:
    payload = item_to_payload(RollStart(lot_number="L", station="s", fabric_type="f", width_mm=1))
    del payload["data"]["same_lot"]
    assert payload_to_item(payload).same_lot == "new"


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (
            lambda: RollStart(
                lot_number="L", station="s", fabric_type="f", width_mm=1, same_lot="x"
            ),
            "same_lot",
        ),
        (lambda: RollRecovery(station=""), "station"),
        (lambda: _checkpoint(inspected_until_line=-1), "inspected_until_line"),
        (lambda: _checkpoint(inspected_mm=-1.0), "inspected_mm"),
        (lambda: _checkpoint(acquired_until_mm=float("nan")), "acquired_until_mm"),
    ],
)
def test_bad_values_are_refused_naming_the_field(make, field: str) -> None:
    with pytest.raises(InvalidRecordError, match=field):
        make()

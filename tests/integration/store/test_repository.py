"""The repository on SQLite and PostgreSQL: idempotent writes, queries, paging, reviews, grades."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from station.grading import GradingError
from station.store.errors import (
    AmbiguousRollError,
    InvalidQueryError,
    NotFoundError,
    ReviewError,
)
from station.store.records import (
    EventKind,
    EventRecord,
    ReviewStatus,
    RollEnd,
    RunStart,
    StoredDefect,
)
from station.store.repository import DefectRepository
from station.store.views import DefectOrder, DefectQuery
from tests.integration.store.helpers import MODEL, T0, count_keys, defect, roll_start


def _roll_with_defects(repository: DefectRepository, count: int, *, lot: str = "LOT-1", **kwargs):
    roll = roll_start(lot, **kwargs)
    run = RunStart(
        roll_key=roll.key, station=roll.station, model=MODEL, camera_serial="cam-0", started_at=T0
    )
    defects = [StoredDefect(record=defect(roll.key, i, run_key=run.key)) for i in range(count)]
    result = repository.write_batch([roll, run, *defects])
    assert not result.rejected
    return roll, run, [d.record for d in defects]


def test_writing_a_batch_twice_stores_every_row_once(repository: DefectRepository) -> None:
    roll, run, records = _roll_with_defects(repository, 20)
    event = EventRecord(
        kind=EventKind.ALARM, message="big hole", roll_key=roll.key, station="station-a"
    )
    again = [roll, run, *(StoredDefect(record=r) for r in records), event]
    repository.write_batch(again)
    repository.write_batch(again)  # a journal replay after a crash writes everything again
    counts = count_keys(repository.engine, "defects", [r.key for r in records])
    assert counts == {r.key: 1 for r in records}
    assert count_keys(repository.engine, "rolls", [roll.key]) == {roll.key: 1}
    assert count_keys(repository.engine, "events", [event.key]) == {event.key: 1}
    assert len(repository.list_runs(roll.key)) == 1


def test_records_of_unknown_rolls_are_rejected_not_written(repository: DefectRepository) -> None:
    roll, _, _ = _roll_with_defects(repository, 1)
    orphan = StoredDefect(record=defect(uuid.uuid4(), 5))
    good = StoredDefect(record=defect(roll.key, 6))
    unknown_end = RollEnd(roll_key=uuid.uuid4(), length_inspected_mm=10.0)
    result = repository.write_batch([orphan, good, unknown_end])
    assert [item for item, _ in result.rejected] == [orphan, unknown_end]
    assert "never started" in result.rejected[0][1]
    assert count_keys(repository.engine, "defects", [orphan.record.key, good.record.key]) == {
        good.record.key: 1
    }
    # An event keeps its place even when its roll is unknown: QA must still see it.
    event = EventRecord(kind="camera_fault", message="no frames", roll_key=uuid.uuid4())
    repository.write_batch([event])
    stored = repository.list_events(kinds=("camera_fault",))
    assert stored[0].details == {"unknown_roll_key": str(event.roll_key)}


def _collect(repository: DefectRepository, query: DefectQuery) -> list:
    items, cursor, pages = [], None, 0
    while True:
        page = repository.find_defects(
            DefectQuery(
                **{**{f: getattr(query, f) for f in query.__dataclass_fields__}, "cursor": cursor}
            )
        )
        items.extend(page.items)
        pages += 1
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor


@pytest.mark.parametrize("order", list(DefectOrder))
def test_keyset_pages_cover_every_defect_once_in_order(repository: DefectRepository, order) -> None:
    roll, _, records = _roll_with_defects(repository, 53)
    # Equal sort values across a page boundary must neither repeat nor skip rows.
    tied = [defect(roll.key, 100 + i, along_mm=55.0, score=0.77) for i in range(6)]
    repository.write_batch([StoredDefect(record=r) for r in tied])
    items = _collect(repository, DefectQuery(roll_key=roll.key, order=order, limit=7))
    assert sorted(d.key for d in items) == sorted(r.key for r in [*records, *tied])
    values = {
        DefectOrder.ALONG: [d.along_mm for d in items],
        DefectOrder.NEWEST: [d.detected_at for d in items],
        DefectOrder.SCORE: [d.peak_score for d in items],
    }[order]
    expected = sorted(values, reverse=order is not DefectOrder.ALONG)
    assert values == expected


def test_filters_by_roll_time_fabric_score_status_and_station(repository: DefectRepository) -> None:
    roll_a, _, records_a = _roll_with_defects(repository, 30, lot="A")
    roll_b = roll_start("B", station="station-b", started_at=T0 + timedelta(hours=1))
    twill = [
        defect(roll_b.key, i, fabric_class="twill", detected_at=T0 + timedelta(hours=2, seconds=i))
        for i in range(10)
    ]
    repository.write_batch([roll_b, *(StoredDefect(record=r) for r in twill)])

    def keys(**filters) -> set:
        return {d.key for d in _collect(repository, DefectQuery(limit=8, **filters))}

    assert keys(roll_key=roll_a.key) == {r.key for r in records_a}
    assert keys(fabric_class="twill") == {r.key for r in twill}
    assert keys(station="station-b") == {r.key for r in twill}
    window = keys(since=T0 + timedelta(seconds=10), until=T0 + timedelta(seconds=20))
    assert window == {r.key for r in records_a if 10 <= (r.detected_at - T0).total_seconds() < 20}
    high = keys(min_score=0.8, max_score=0.9)
    assert high == {r.key for r in [*records_a, *twill] if 0.8 <= r.peak_score <= 0.9}
    assert high  # the seeded scores do fall in the window
    repository.reject_defect(records_a[0].key, reviewer="qa-1")
    assert keys(review_status=(ReviewStatus.FALSE_ALARM,)) == {records_a[0].key}
    assert repository.count_defects(DefectQuery(review_status=(ReviewStatus.UNREVIEWED,))) == 39
    assert repository.count_defects(DefectQuery(roll_key=roll_b.key)) == 10


def test_bad_queries_raise_invalid_query(repository: DefectRepository) -> None:
    with pytest.raises(InvalidQueryError):
        repository.find_defects(DefectQuery(limit=0))
    with pytest.raises(InvalidQueryError):
        repository.find_defects(DefectQuery(cursor="not-a-cursor"))
    page_cursor = "WyJhbG9uZyIsIDIwLjAsIDNd"  # a cursor of the ALONG order
    with pytest.raises(InvalidQueryError):
        repository.find_defects(DefectQuery(order=DefectOrder.SCORE, cursor=page_cursor))
    with pytest.raises(InvalidQueryError):
        repository.find_defects(DefectQuery(since=T0.replace(tzinfo=None)))


def test_rolls_are_found_by_lot_or_key_and_duplicates_are_ambiguous(
    repository: DefectRepository,
) -> None:
    first, _, _ = _roll_with_defects(repository, 1, lot="L-9")
    assert repository.get_roll(lot_number="L-9").key == first.key
    second = roll_start("L-9", started_at=T0 + timedelta(days=1))
    repository.write_batch([second])
    with pytest.raises(AmbiguousRollError) as raised:
        repository.get_roll(lot_number="L-9")
    assert str(first.key) in raised.value.message and str(second.key) in raised.value.message
    assert repository.get_roll(roll_key=second.key).started_at == second.started_at
    with pytest.raises(NotFoundError):
        repository.get_roll(lot_number="nope")
    assert [r.key for r in repository.list_rolls()] == [second.key, first.key]


def test_review_actions_are_recorded_with_who_and_when(repository: DefectRepository) -> None:
    _, _, records = _roll_with_defects(repository, 3)
    confirmed = repository.confirm_defect(records[0].key, reviewer="ann", defect_type="slub")
    assert (confirmed.review_status, confirmed.reviewer, confirmed.defect_type) == (
        ReviewStatus.CONFIRMED,
        "ann",
        "slub",
    )
    assert confirmed.reviewed_at is not None and confirmed.reviewed_at.tzinfo is not None
    relabelled = repository.relabel_defect(
        records[0].key, reviewer="bob", defect_type="knot", comment="looked again"
    )
    assert (relabelled.defect_type, relabelled.reviewer) == ("knot", "bob")
    rejected = repository.reject_defect(records[1].key, reviewer="ann", comment="lint")
    assert rejected.review_status is ReviewStatus.FALSE_ALARM
    history = repository.review_history(records[0].key)
    assert [(h.action, h.reviewer, h.defect_type) for h in history] == [
        ("confirm", "ann", "slub"),
        ("relabel", "bob", "knot"),
    ]
    assert history[1].comment == "looked again"
    with pytest.raises(ReviewError):
        repository.confirm_defect(records[2].key, reviewer="  ")
    with pytest.raises(ReviewError):
        repository.review_defect(records[2].key, action="relabel", reviewer="ann")
    with pytest.raises(NotFoundError):
        repository.reject_defect(uuid.uuid4(), reviewer="ann")
    assert repository.get_defect(records[2].key).review_status is ReviewStatus.UNREVIEWED


def test_grade_counts_confirmed_and_unreviewed_but_never_false_alarms(
    repository: DefectRepository,
) -> None:
    # 60 in wide, 100 yd inspected: points/100 yd² = points x 3600 / 6000 = 0.6 x points.
    roll = roll_start("G-1", width_mm=60 * 25.4)
    yard = 914.4
    records = [
        defect(roll.key, 0, along_mm=0.5 * yard, points=4, length_mm=250),
        defect(roll.key, 1, along_mm=0.6 * yard, points=3, length_mm=200),  # same yard: capped at 4
        defect(roll.key, 2, along_mm=10.5 * yard, points=2, length_mm=120),
        defect(roll.key, 3, along_mm=20.5 * yard, points=1, length_mm=50),
    ]
    repository.write_batch(
        [
            roll,
            *(StoredDefect(record=r) for r in records),
            RollEnd(roll_key=roll.key, length_inspected_mm=100 * yard),
        ]
    )
    grade = repository.grade(roll.key, limit_points_per_100yd2=40)
    assert (grade.raw_points, grade.capped_points) == (10, 7)
    assert grade.points_per_100yd2 == pytest.approx(4.2)
    assert grade.passed
    repository.reject_defect(records[2].key, reviewer="ann")
    assert repository.grade(roll.key, limit_points_per_100yd2=40).capped_points == 5
    only_confirmed = repository.grade(
        roll.key, limit_points_per_100yd2=40, include_unreviewed=False
    )
    assert only_confirmed.capped_points == 0
    assert not repository.grade(roll.key, limit_points_per_100yd2=2.0).passed


def test_roll_summary_counts_defects_events_and_gaps(repository: DefectRepository) -> None:
    roll, run, records = _roll_with_defects(repository, 12)
    events = [
        EventRecord(
            kind=EventKind.UNINSPECTED_STRETCH,
            message="inference behind",
            roll_key=roll.key,
            from_mm=1000.0,
            to_mm=1250.0,
        ),
        EventRecord(
            kind=EventKind.UNINSPECTED_STRETCH,
            message="again",
            roll_key=roll.key,
            from_mm=3000.0,
            to_mm=3100.0,
        ),
        EventRecord(kind=EventKind.DROPPED_BLOCKS, message="dropped", roll_key=roll.key, count=7),
    ]
    repository.write_batch(events)
    repository.confirm_defect(records[0].key, reviewer="ann", defect_type="hole")
    summary = repository.roll_summary(roll.key, limit_points_per_100yd2=40)
    assert summary.defect_count == 12
    assert summary.defects_by_status == {"confirmed": 1, "unreviewed": 11}
    assert summary.defects_by_type == {"hole": 1, "unlabelled": 11}
    assert summary.uninspected_mm == pytest.approx(350.0)
    assert summary.dropped_blocks == 7
    assert summary.events_by_kind == {"uninspected_stretch": 2, "dropped_blocks": 1}
    assert summary.defects_without_images == 12
    assert [r.key for r in summary.runs] == [run.key]
    assert summary.grade is None and "inspected length" in summary.grade_problem
    with pytest.raises(GradingError):
        repository.grade(roll.key, limit_points_per_100yd2=40)
    assert (
        repository.grade(roll.key, limit_points_per_100yd2=40, length_mm=5000.0).defect_count == 12
    )


def test_times_round_trip_as_aware_utc(repository: DefectRepository) -> None:
    from datetime import timezone

    local = timezone(timedelta(hours=5, minutes=30))
    roll = roll_start("TZ", started_at=T0.astimezone(local))
    repository.write_batch([roll])
    stored = repository.get_roll(roll_key=roll.key)
    assert stored.started_at == T0 and stored.started_at.utcoffset() == timedelta(0)

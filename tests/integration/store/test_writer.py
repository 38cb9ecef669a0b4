"""The writer on SQLite and PostgreSQL: acks, drain, overflow, full image store, replay."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import text

from station.store.config import StoreConfig
from station.store.errors import InvalidRecordError, JournalLockedError, WriterClosedError
from station.store.journal import Journal, read_frames
from station.store.records import (
    EventKind,
    EventRecord,
    ModelVersionInfo,
    RollEnd,
    RollStart,
    StoredDefect,
    item_to_payload,
)
from station.store.store import DefectStore
from station.store.views import DefectQuery
from tests.integration.store.helpers import MODEL, count_keys, defect, png_bytes


def test_submitted_defects_are_acked_committed_and_queryable(store_config: StoreConfig) -> None:
    acked: list[uuid.UUID] = []
    lock = threading.Lock()

    def on_ack(keys) -> None:
        with lock:
            acked.extend(keys)

    store = DefectStore.open(store_config, on_ack=on_ack)
    roll = store.start_roll(lot_number="W-1", station="st-1", fabric_type="denim", width_mm=1600)
    run = store.start_run(roll_key=roll.key, station="st-1", model=MODEL, camera_serial="cam-7")
    records = [defect(roll.key, i, run_key=run.key) for i in range(300)]
    crop, heatmap = png_bytes(1), png_bytes(2)
    for index, record in enumerate(records):
        store.writer.submit_defect(
            record,
            crop_png=crop if index % 3 == 0 else None,
            heatmap_png=heatmap if index % 3 == 0 else None,
        )
    store.end_run(run.key)
    store.end_roll(roll.key, length_inspected_mm=5000.0)
    stats = store.close(timeout_s=30)  # close drains the queue
    assert stats.submitted == 304 and stats.acked == 304 and stats.committed == 304
    assert stats.dropped == 0 and stats.rejected == 0 and stats.journal_pending == 0
    assert set(acked) >= {r.key for r in records}
    reopened = DefectStore.open(store_config, with_writer=False)
    try:
        repository = reopened.repository
        assert count_keys(repository.engine, "defects", [r.key for r in records]) == {
            r.key: 1 for r in records
        }
        first = repository.get_defect(records[0].key)
        assert reopened.images.read(first.crop_path, expected_sha256=first.crop_sha256) == crop
        assert (
            reopened.images.read(first.heatmap_path, expected_sha256=first.heatmap_sha256)
            == heatmap
        )
        assert repository.get_defect(records[1].key).crop_path is None
        assert repository.get_roll(roll_key=roll.key).length_inspected_mm == 5000.0
        assert repository.list_runs(roll.key)[0].ended_at is not None
    finally:
        reopened.close()


def test_flush_waits_until_records_are_durable(store: DefectStore) -> None:
    roll = store.start_roll(lot_number="F-1", station="st-1", fabric_type="denim", width_mm=1600)
    records = [defect(roll.key, i) for i in range(50)]
    for record in records:
        store.writer.submit_defect(record)
    assert store.writer.flush(timeout_s=20)
    assert store.writer.stats().acked == 51
    page = store.repository.find_defects(DefectQuery(roll_key=roll.key, limit=100))
    assert len(page.items) == 50


@contextmanager
def _database_write_blocked(url: str) -> Iterator[None]:
    """Hold a real lock that makes the writer's next insert wait."""
    from station.store.engine import create_store_engine

    engine = create_store_engine(url)
    connection = engine.connect()
    try:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.execute(text("LOCK TABLE defects IN ACCESS EXCLUSIVE MODE"))
        yield
    finally:
        connection.rollback()
        connection.close()
        engine.dispose()


def test_full_queue_drops_oldest_defects_counts_them_and_keeps_roll_records(
    store_config: StoreConfig,
) -> None:
    store_config.queue_size = 10
    store_config.batch_size = 5
    store = DefectStore.open(store_config)
    try:
        roll = store.start_roll(
            lot_number="O-1", station="st-1", fabric_type="denim", width_mm=1600
        )
        assert store.writer.flush(timeout_s=20)
        with _database_write_blocked(store_config.url):
            store.writer.submit_defect(defect(roll.key, 0))
            deadline = time.monotonic() + 10
            while store.writer.stats().queued and time.monotonic() < deadline:
                time.sleep(0.01)  # until the writer has taken it; it then waits on the lock
            records = [defect(roll.key, i) for i in range(1, 41)]
            for record in records[:20]:
                store.writer.submit_defect(record)
            store.end_roll(roll.key, length_inspected_mm=400.0)
            for record in records[20:]:
                store.writer.submit_defect(record)
            assert store.writer.stats().dropped == 31  # 41 defects + 1 roll end into 10 places
        assert store.writer.flush(timeout_s=30)
        stats = store.writer.stats()
        # Acked: roll start, defect 0, the 9 newest defects, the roll end and the overflow event.
        assert stats.dropped == 31 and stats.acked == 13
        stored = count_keys(store.repository.engine, "defects", [r.key for r in records])
        assert set(stored) == {r.key for r in records[31:]}
        assert store.repository.get_roll(roll_key=roll.key).length_inspected_mm == 400.0
        overflow = store.repository.list_events(kinds=(EventKind.STORE_QUEUE_OVERFLOW,))
        assert [(e.count, e.roll_key, e.severity) for e in overflow] == [(31, roll.key, "error")]
    finally:
        store.close()


def test_a_lock_held_past_the_timeout_is_journaled_not_waited_out(
    store_config: StoreConfig,
) -> None:
    """A database that waits instead of failing (a lock held elsewhere) must not fill the
    queue: the writer's statement gives up after the lock/busy timeout (10 s) and the
    defects go to the journal, then into the database once the lock is gone."""
    store_config.queue_size = 128  # holds what arrives within the timeout, not all 14 s
    store = DefectStore.open(store_config)
    try:
        roll = store.start_roll(
            lot_number="L-1", station="st-1", fabric_type="denim", width_mm=1600
        )
        assert store.writer.flush(timeout_s=20)
        records = [defect(roll.key, i) for i in range(100)]
        with _database_write_blocked(store_config.url):
            for record in records:
                store.writer.submit_defect(record)
                time.sleep(0.14)  # 100 defects over 14 s, longer than the timeout
            journaled = store.writer.stats().journaled
        assert store.writer.flush(timeout_s=60)
        stats = store.writer.stats()
        assert journaled > 0 and stats.dropped == 0 and stats.journal_pending == 0
        stored = count_keys(store.repository.engine, "defects", [r.key for r in records])
        assert stored == {r.key: 1 for r in records}
    finally:
        store.close()


def test_full_image_store_logs_defects_without_images_and_an_event(
    store_config: StoreConfig,
) -> None:
    crop = png_bytes(3)
    store_config.image_store_max_bytes = 3 * len(crop) + len(crop) // 2  # room for three crops
    store = DefectStore.open(store_config)
    try:
        roll = store.start_roll(
            lot_number="I-1", station="st-1", fabric_type="denim", width_mm=1600
        )
        records = [defect(roll.key, i) for i in range(8)]
        for record in records:
            store.writer.submit_defect(record, crop_png=crop)
        assert store.writer.flush(timeout_s=20)
        stats = store.writer.stats()
        assert stats.images_skipped == 5 and stats.acked == 9 + 1  # + the image_store_full event
        views = [store.repository.get_defect(r.key) for r in records]
        assert [v.crop_path is not None for v in views] == [True] * 3 + [False] * 5
        full = store.repository.list_events(kinds=(EventKind.IMAGE_STORE_FULL,))
        assert len(full) == 1 and full[0].roll_key == roll.key and full[0].severity == "error"
        # Space comes back (here: the limit is raised); the next image is stored again.
        store.images.max_bytes = None
        late = defect(roll.key, 99)
        store.writer.submit_defect(late, crop_png=crop)
        assert store.writer.flush(timeout_s=20)
        assert store.repository.get_defect(late.key).crop_path is not None
        recovered = store.repository.list_events(kinds=(EventKind.IMAGE_STORE_RECOVERED,))
        assert [e.count for e in recovered] == [5]
        assert (
            store.repository.roll_summary(
                roll.key, limit_points_per_100yd2=40
            ).defects_without_images
            == 5
        )
    finally:
        store.close()


def test_records_the_database_refuses_are_kept_aside(
    store: DefectStore, store_config: StoreConfig
) -> None:
    roll = store.start_roll(lot_number="R-1", station="st-1", fabric_type="denim", width_mm=1600)
    orphan = defect(uuid.uuid4(), 1)  # names a roll that was never started
    good = defect(roll.key, 2)
    store.writer.submit_defect(orphan)
    store.writer.submit_defect(good)
    assert store.writer.flush(timeout_s=20)
    stats = store.writer.stats()
    assert stats.rejected == 1 and stats.acked == 2
    frames, _, _ = read_frames(store_config.journal_dir / "rejected.journal")
    assert frames[0][1]["record"]["data"]["record"]["key"] == str(orphan.key)
    assert "never started" in frames[0][1]["reason"]
    assert store.repository.get_defect(good.key).key == good.key


def test_journal_left_by_an_earlier_run_is_replayed_on_open(store_config: StoreConfig) -> None:
    roll = RollStart(lot_number="J-1", station="st-1", fabric_type="denim", width_mm=1600)
    records = [defect(roll.key, i) for i in range(25)]
    journal = Journal(store_config.journal_dir)  # what a station killed during an outage leaves
    items = [
        roll,
        *(StoredDefect(record=r) for r in records),
        RollEnd(roll_key=roll.key, length_inspected_mm=9.0),
    ]
    journal.append([item_to_payload(item) for item in items])
    journal.close()
    store = DefectStore.open(store_config)
    try:
        assert store.writer.wait_for_database(timeout_s=20)
        assert store.writer.stats().replayed == 27
        assert count_keys(store.repository.engine, "defects", [r.key for r in records]) == {
            r.key: 1 for r in records
        }
        assert store.repository.get_roll(roll_key=roll.key).length_inspected_mm == 9.0
    finally:
        store.close()
    assert read_frames(store_config.journal_dir / "pending.journal")[0] == []


def test_misuse_raises_clear_errors(store: DefectStore, store_config: StoreConfig) -> None:
    with pytest.raises(InvalidRecordError):
        store.writer.submit_defect("not a record")  # type: ignore[arg-type]
    with pytest.raises(JournalLockedError):
        DefectStore.open(store_config)  # a second writer on the same journal folder
    store.close()
    with pytest.raises(WriterClosedError):
        store.writer.submit_event(EventRecord(kind="alarm", message="late"))


def test_a_model_change_mid_roll_starts_a_run_and_records_an_event(store: DefectStore) -> None:
    roll = store.start_roll(lot_number="M-1", station="st-1", fabric_type="denim", width_mm=1600)
    first = store.start_run(roll_key=roll.key, station="st-1", model=MODEL)
    store.end_run(first.key)
    newer = ModelVersionInfo(
        sha256="d" * 64, name="cras-v2.engine", classes=("denim",), threshold=0.5
    )
    second = store.start_run(roll_key=roll.key, station="st-1", model=newer)
    store.writer.submit_defect(defect(roll.key, 1, run_key=second.key))
    assert store.writer.flush(timeout_s=20)
    runs = store.repository.list_runs(roll.key)
    assert [(r.key, r.model_sha256) for r in runs] == [
        (first.key, MODEL.sha256),
        (second.key, "d" * 64),
    ]
    changes = store.repository.list_events(kinds=(EventKind.MODEL_CHANGE,))
    assert len(changes) == 1 and changes[0].details["previous_sha256"] == MODEL.sha256

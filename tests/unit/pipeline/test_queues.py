"""Stage queues: bounded, drop the oldest and count it; control items always pass."""

from __future__ import annotations

import threading
import time

from station.pipeline.queues import StageQueue


def test_full_queue_drops_the_oldest_counts_it_and_reports_it() -> None:
    dropped: list[int] = []
    queue: StageQueue[int] = StageQueue(3, name="q", on_drop=dropped.append)
    for item in range(7):
        queue.put(item)
    assert dropped == [0, 1, 2, 3] and queue.dropped == 4
    assert [queue.get(timeout_s=0) for _ in range(3)] == [4, 5, 6]
    assert queue.max_depth == 3


def test_control_items_are_never_dropped() -> None:
    queue: StageQueue[object] = StageQueue(2, name="q")
    end = object()
    queue.put(1)
    queue.put_control(end)
    for item in range(2, 6):
        queue.put(item)
    assert queue.get_many(max_items=10, timeout_s=0) == [end]  # a control item ends a batch
    assert queue.get_many(max_items=10, timeout_s=0) == [4, 5]


def test_get_many_takes_what_the_batch_accepts() -> None:
    queue: StageQueue[int] = StageQueue(10, name="q")
    for item in (3, 4, 5, 6):
        queue.put(item)
    batch = queue.get_many(max_items=10, timeout_s=0, accept=lambda taken, n: sum(taken) + n <= 9)
    assert batch == [3, 4] and queue.get(timeout_s=0) == 5


def test_get_times_out_with_none() -> None:
    queue: StageQueue[int] = StageQueue(1, name="q")
    start = time.monotonic()
    assert queue.get(timeout_s=0.05) is None and time.monotonic() - start >= 0.04


def test_wait_mode_blocks_until_room_or_stop_waiting() -> None:
    queue: StageQueue[int] = StageQueue(1, name="q", wait_when_full=True)
    queue.put(1)
    done = threading.Event()
    thread = threading.Thread(target=lambda: (queue.put(2), done.set()))
    thread.start()
    assert not done.wait(0.2)  # waits for room
    assert queue.get(timeout_s=1) == 1
    assert done.wait(2) and queue.dropped == 0
    queue.stop_waiting()  # from now on: drop instead of waiting
    queue.put(3)
    assert queue.dropped == 1 and queue.get(timeout_s=0) == 3
    thread.join()

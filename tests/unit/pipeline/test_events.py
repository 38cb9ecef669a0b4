"""The event bus: plain callbacks, filters, bounded queues, failing subscribers."""

from __future__ import annotations

from station.pipeline.events import Alarm, EventBus, PipelineState, StatusChanged


def test_subscribers_get_the_events_of_their_kinds() -> None:
    bus = EventBus()
    everything, alarms = [], []
    bus.subscribe(everything.append)
    bus.subscribe(alarms.append, kinds=(Alarm,))
    status = StatusChanged(PipelineState.RUNNING)
    alarm = Alarm(kind="defect", message="4-point defect")
    bus.publish(status)
    bus.publish(alarm)
    assert everything == [status, alarm] and alarms == [alarm]


def test_unsubscribe_stops_delivery() -> None:
    bus = EventBus()
    seen = []
    unsubscribe = bus.subscribe(seen.append)
    unsubscribe()
    bus.publish(Alarm(kind="defect", message="x"))
    assert seen == []


def test_a_failing_subscriber_does_not_stop_the_others(caplog) -> None:
    bus = EventBus()
    seen = []

    def broken(_event: object) -> None:
        raise RuntimeError("subscriber bug")

    bus.subscribe(broken)
    bus.subscribe(seen.append)
    bus.publish(Alarm(kind="defect", message="x"))
    assert len(seen) == 1 and "subscriber bug" in caplog.text


def test_event_queue_drops_its_oldest_when_the_reader_falls_behind() -> None:
    bus = EventBus()
    queue = bus.subscribe_queue(maxsize=2, kinds=(Alarm,))
    for index in range(5):
        bus.publish(Alarm(kind="defect", message=str(index)))
    bus.publish(StatusChanged(PipelineState.STOPPED))  # filtered out
    assert [event.message for event in queue.drain()] == ["3", "4"]
    assert queue.dropped == 3 and queue.get(timeout_s=0.01) is None

"""What the pipeline does with a line source's events (called from the source's thread)."""

from __future__ import annotations

from station.acquisition.lines import Severity as SourceSeverity
from station.acquisition.lines import SourceEvent, SourceEventKind
from station.pipeline.coverage import CoverageTracker
from station.pipeline.events import Alarm, EventBus, SourceNotice
from station.pipeline.recorder import RollRecorder
from station.store.records import EventKind, Severity

SOURCE_QUEUE_OVERFLOW = "acquisition queue overflowed (the pipeline fell behind the source)"
INCOMPLETE_FRAME = "incomplete camera frame"


class SourceEventHandler:
    """The ``on_event`` callback of the pipeline's source.

    Every event goes on the bus. Lost lines (blocks dropped, incomplete frames)
    are told to the coverage tracker, which records them with the uninspected
    stretch they cause. Faults become ``camera_fault`` events in the store (and
    alarms); warnings are stored under their own kind; information is not stored.

    Args:
        bus: Where :class:`SourceNotice` and alarms go.
        tracker: Coverage tracker that explains uninspected stretches.
        recorder: The roll's recorder.
        alarm_on_fault: Raise an alarm for source faults.
    """

    def __init__(
        self,
        *,
        bus: EventBus,
        tracker: CoverageTracker,
        recorder: RollRecorder,
        alarm_on_fault: bool,
    ) -> None:
        self.bus = bus
        self.tracker = tracker
        self.recorder = recorder
        self.alarm_on_fault = alarm_on_fault

    def __call__(self, event: SourceEvent) -> None:
        self.bus.publish(SourceNotice(event))
        if event.kind in (SourceEventKind.BLOCKS_DROPPED, SourceEventKind.INCOMPLETE_FRAME):
            first = int(event.details.get("first_line", 0))
            lines = int(event.details.get("num_lines", 0))
            dropped = event.kind is SourceEventKind.BLOCKS_DROPPED
            reason = SOURCE_QUEUE_OVERFLOW if dropped else INCOMPLETE_FRAME
            self.tracker.note_loss(first, first + lines, reason, dropped=dropped)
            if dropped:
                return  # recorded with the uninspected stretch it causes
        if event.severity is SourceSeverity.FAULT:
            self.recorder.event(EventKind.CAMERA_FAULT, event.message, severity=Severity.ERROR)
            if self.alarm_on_fault:
                self.bus.publish(Alarm(kind="source_fault", message=event.message))
        elif event.severity is SourceSeverity.WARNING:
            self.recorder.event(event.kind.value, event.message, severity=Severity.WARNING)

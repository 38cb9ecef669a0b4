"""Pipeline events into Qt signals, without ever making the pipeline wait.

The pipeline's threads only put events on two bounded queues (a full queue
drops its oldest event and counts it): one for web previews, one for
everything else. A :class:`QTimer` in the GUI thread drains both and emits
signals. Previews are coalesced: a slow window gets the newest few only.
"""

from __future__ import annotations

from PyQt6.QtCore import QObject, QTimer, pyqtSignal

from station.pipeline.events import (
    Alarm,
    DefectFound,
    EventBus,
    EventQueue,
    FiguresUpdated,
    SourceNotice,
    StatusChanged,
    UninspectedStretchFound,
    WebPreview,
)

_SIGNAL_OF = {
    DefectFound: "defect_found",
    UninspectedStretchFound: "stretch_found",
    Alarm: "alarm",
    SourceNotice: "source_notice",
    FiguresUpdated: "figures",
    StatusChanged: "status",
}


class EventPump(QObject):
    """Drains a pipeline's event queues in the GUI thread.

    Signals carry the pipeline's own event objects; ``previews`` carries a list
    of :class:`WebPreview` in arrival order.

    Args:
        interval_ms: How often the queues are drained.
        event_queue_size: Events (other than previews) held for the window at most.
        preview_queue_size: Previews held at most (older ones are dropped and counted).
        parent: Qt parent.
    """

    defect_found = pyqtSignal(object)
    stretch_found = pyqtSignal(object)
    alarm = pyqtSignal(object)
    source_notice = pyqtSignal(object)
    figures = pyqtSignal(object)
    status = pyqtSignal(object)
    previews = pyqtSignal(list)

    def __init__(
        self,
        *,
        interval_ms: int = 40,
        event_queue_size: int = 10_000,
        preview_queue_size: int = 8,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.event_queue_size = event_queue_size
        self.preview_queue_size = preview_queue_size
        self._events: EventQueue | None = None
        self._previews: EventQueue | None = None
        self._earlier_drops = 0
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.drain)

    def attach(self, bus: EventBus) -> None:
        """Listen to ``bus`` (a new pipeline's, before it starts) instead of the previous one."""
        self._earlier_drops = self.dropped_events
        self._events = bus.subscribe_queue(maxsize=self.event_queue_size, kinds=tuple(_SIGNAL_OF))
        self._previews = bus.subscribe_queue(maxsize=self.preview_queue_size, kinds=(WebPreview,))
        if not self.timer.isActive():
            self.timer.start()

    def stop(self) -> None:
        """Stop draining (the queues keep what arrives, up to their size)."""
        self.timer.stop()

    @property
    def dropped_events(self) -> int:
        """Events the window was too slow for, since the pump was made."""
        now = sum(queue.dropped for queue in (self._events, self._previews) if queue is not None)
        return self._earlier_drops + now

    def drain(self) -> None:
        """Emit a signal per waiting event (previews as one list)."""
        if self._events is not None:
            for event in self._events.drain():
                getattr(self, _SIGNAL_OF[type(event)]).emit(event)
        if self._previews is not None:
            previews = self._previews.drain()
            if previews:
                self.previews.emit(previews)

"""The operator window: the live web, the roll map, figures, lights, alarms and roll control.

It runs the real pipeline in-process (:class:`~ui.operator.session.RollSession`)
and only listens: the pipeline's threads put events on bounded queues that an
:class:`~ui.event_pump.EventPump` drains in the GUI thread, so a stalled
window costs the inspection nothing. Closing the window ends the roll the way
SIGTERM ends ``station run``: the source stops, queued work drains, the roll
is closed and the store flushed, and only then does the window go.
"""

from __future__ import annotations

import getpass
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from PyQt6.QtCore import QTimer
from PyQt6.QtGui import QCloseEvent
from PyQt6.QtWidgets import (
    QMainWindow,
)

from station.pipeline.config import StationConfig
from station.pipeline.events import (
    Alarm,
    DefectFound,
    FiguresUpdated,
    SourceNotice,
    StatusChanged,
    UninspectedStretchFound,
    WebPreview,
)
from station.store.images import ImageStore
from station.store.users import Role, SignedInUser
from ui.event_pump import EventPump
from ui.operator.body import COUNTERS, OperatorBody
from ui.operator.readouts import (
    database_light,
    defect_alarm,
    defect_facts,
    figure_readouts,
    live_grade,
    model_readout,
    stored_view,
)
from ui.operator.session import Phase, RollDetails, RollSession, message_of
from ui.operator.sign_in_flow import SignInFlow
from ui.operator.store_watch import StoreWatch
from ui.widgets.roll_map import RollMark
from ui.widgets.sign_in import SignInDialog
from ui.widgets.status_lights import Light
from ui.widgets.waterfall import MarkedDefect

logger = logging.getLogger(__name__)

KEEP_IMAGES = 100  # the newest defects' own crop/heatmap, for before the database has them


@dataclass(frozen=True)
class ShownDefect:
    """A defect the window shows, and when it first showed it (wall clock)."""

    event: DefectFound
    shown_at_s: float


class OperatorWindow(QMainWindow):
    """The operator's window for one station.

    Args:
        config: The station configuration (as ``station run`` reads it).
        user: Who operates (recorded with every setting change); default the OS user.
        beep: The audible alarm (default ``QApplication.beep``).
    """

    def __init__(
        self,
        config: StationConfig,
        *,
        user: str | None = None,
        beep: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.user = user or getpass.getuser()
        self.setWindowTitle(f"cras-station operator: {config.station.name}")
        self.session: RollSession | None = None
        self.shown: list[ShownDefect] = []
        self.engineer = False  # an engineer signed in: the wider sensitivity range applies
        self._images_of: deque[tuple[int, bytes | None, bytes | None]] = deque(maxlen=KEEP_IMAGES)
        self._stretches: list[tuple[float, float]] = []
        self._width_mm = config.roll.width_mm or 1000.0
        self._closing = False
        self._build(beep)
        self.images = self._open_image_store()
        self.sign_in_flow = SignInFlow(
            config.store.url, connect_timeout_s=config.store.connect_timeout_s, parent=self
        )
        self.sign_in_flow.signed_in.connect(self._signed_in)
        self.pump = EventPump(parent=self)
        self._connect_pump()
        self.store_watch = StoreWatch(config.store, interval_s=config.operator.store_poll_s)
        self.store_watch.start()
        self.ticker = QTimer(self)
        self.ticker.setInterval(250)
        self.ticker.timeout.connect(self._tick)
        self.ticker.start()
        self.controls.show_model(
            str(config.model.path or "each roll's recipe (by its fabric article)")
        )
        self._recipe_ranged: RollSession | None = None  # whose recipe set the slider range

    # -- layout ---------------------------------------------------------------------------

    def _build(self, beep: Callable[[], None] | None) -> None:
        body = OperatorBody(self.config.operator, beep=beep)
        self.lights, self.banner, self.waterfall = body.lights, body.banner, body.waterfall
        self.overlay, self.opacity, self.strip = body.overlay, body.opacity, body.strip
        self.crop, self.counters, self.controls = body.crop, body.counters, body.controls
        self.state_line = body.state_line
        self.overlay.toggled.connect(self._overlay_changed)
        self.opacity.valueChanged.connect(self._overlay_changed)
        self.strip.mark_clicked.connect(self._mark_clicked)
        self.controls.start_requested.connect(self.start_roll)
        self.controls.stop_requested.connect(self.end_roll)
        self.controls.sensitivity_chosen.connect(self.set_sensitivity)
        self.controls.sign_in_requested.connect(self.sign_in)
        self.controls.show_user(self.user, "operator")
        self.setCentralWidget(body)
        self.resize(1400, 950)

    def _open_image_store(self) -> ImageStore | None:
        try:
            return ImageStore(self.config.store.image_root, fsync=False)
        except Exception as error:
            self.crop.message.setText(f"image store: {message_of(error)}")
            return None

    def _connect_pump(self) -> None:
        self.pump.defect_found.connect(self._on_defect)
        self.pump.stretch_found.connect(self._on_stretch)
        self.pump.alarm.connect(self._on_alarm)
        self.pump.source_notice.connect(self._on_source)
        self.pump.figures.connect(self._on_figures)
        self.pump.status.connect(self._on_status)
        self.pump.previews.connect(self._on_previews)

    # -- roll control -----------------------------------------------------------------------

    def start_roll(self, details: RollDetails | None = None) -> None:
        """Start a new roll (with ``details`` or what the controls hold)."""
        if self.session is not None and self.session.phase in (
            Phase.STARTING,
            Phase.RUNNING,
            Phase.STOPPING,
        ):
            return
        details = details or self.controls.roll_details()
        self.shown.clear()
        self._images_of.clear()
        self._stretches = []
        self.waterfall.clear_roll()
        self._width_mm = details.width_mm or self.config.roll.width_mm or 1000.0
        self.strip.set_defects([])
        self.strip.set_uninspected([])
        self.strip.set_selected(None)
        self.strip.set_roll(length_mm=1000.0, width_mm=self._width_mm)
        for key in COUNTERS:
            self.counters.set_value(key, "–")
        self.counters.set_value("defects", "0")
        self.session = RollSession(self.config, details)
        self.controls.set_sensitivity_range(*self._sensitivity_range())  # the recipe's once known
        self.pump.attach(self.session.bus)
        self.session.begin()
        self.lights.set("model", Light.WARN, "opening", "opening the model and the store")
        self.state_line.setText("Starting: opening the model, the store and the source ...")
        self.controls.set_running(False, busy=True)

    def end_roll(self) -> None:
        """End the running roll (drain, close the roll, flush the store) without blocking."""
        if self.session is None or not self.session.needs_stop or self.session.busy:
            return
        self.session.end()
        self.state_line.setText("Ending the roll: draining queued work, flushing the store ...")
        self.controls.set_running(False, busy=True)

    def set_sensitivity(self, sensitivity: float) -> None:
        """Apply the slider's sensitivity to the running pipeline (recorded with the user)."""
        session = self.session
        if session is None or session.phase is not Phase.RUNNING:
            return
        try:
            threshold = session.pipeline.set_sensitivity(
                sensitivity, user=self.user, engineer=self.engineer
            )
        except Exception as error:
            self.banner.raise_alarm(f"sensitivity not changed: {message_of(error)}")
            return
        self.state_line.setText(
            f"Sensitivity {sensitivity:.2f} (threshold {threshold:.4g}) set by {self.user}"
        )

    def _roll_config(self) -> StationConfig:
        """The running roll's configuration (its recipe's settings), else the station's."""
        session = self.session
        if session is not None and session.pipeline.recipe is not None:
            return session.pipeline.config
        return self.config

    def _sensitivity_range(self) -> tuple[float, float]:
        limits = self._roll_config().operator
        if self.engineer:
            return limits.engineer_sensitivity_min, limits.engineer_sensitivity_max
        return limits.sensitivity_min, limits.sensitivity_max

    def sign_in(self) -> None:
        """Open the sign-in dialog (not modal: the live view goes on behind it)."""
        if self.lights.lights["database"].light is not Light.GOOD:
            self.state_line.setText(
                "Sign-in needs the database, and it does not answer now (see the database light)"
            )
            return
        problem = self.sign_in_flow.open()
        if problem:
            self.state_line.setText(problem)

    @property
    def sign_in_dialog(self) -> SignInDialog | None:
        """The open sign-in dialog, if any."""
        return self.sign_in_flow.dialog

    def _signed_in(self, user: SignedInUser) -> None:
        self.user = user.name
        self.engineer = user.role is Role.ENGINEER
        self.controls.show_user(user.name, str(user.role))
        self.controls.set_sensitivity_range(
            *self._sensitivity_range(), value=self.controls.sensitivity_value
        )
        self.state_line.setText(
            f"Signed in as {user.name} ({user.role}); sensitivity range "
            f"{self.controls.low:.2f}-{self.controls.high:.2f}"
        )

    def _mark_clicked(self, key: object) -> None:
        if isinstance(key, int):
            self.strip.set_selected(key)
            self.show_defect(key)

    def show_defect(self, index: int) -> None:
        """Show the crop and heatmap of the ``index``-th defect of this roll."""
        if not 0 <= index < len(self.shown):
            return
        defect = self.shown[index].event.defect
        fallback = next(
            ((crop, heat) for kept, crop, heat in self._images_of if kept == index), (None, None)
        )
        reading = self.store_watch.latest
        self.crop.show_defect(
            facts=defect_facts(defect),
            view=stored_view(defect, reading.defects) if reading is not None else None,
            images=self.images,
            fallback=fallback,
        )

    # -- pipeline events (GUI thread, from the pump) -------------------------------------

    def _on_defect(self, event: DefectFound) -> None:
        defect = event.defect
        index = len(self.shown)
        self.shown.append(ShownDefect(event=event, shown_at_s=time.time()))
        self._images_of.append((index, defect.crop_png, defect.heatmap_png))
        self.strip.add_defect(
            RollMark(
                key=index,
                along_mm=defect.along_mm,
                across_mm=defect.across_mm,
                points=defect.points,
                length_mm=defect.length_mm,
                width_mm=defect.width_mm,
            )
        )
        self.waterfall.mark_defect(
            MarkedDefect(
                along_mm=defect.along_mm,
                length_mm=defect.length_mm,
                across_mm=defect.across_camera_mm,
                width_mm=defect.width_mm,
                label=f"{defect.points}p {defect.peak_score:.2g}",
            )
        )
        self.counters.set_value("defects", str(len(self.shown)))
        self._update_grade()
        message = defect_alarm(defect, self.config.operator)
        if message is not None:
            self.banner.raise_alarm(message)

    def _on_stretch(self, event: UninspectedStretchFound) -> None:
        stretch = event.stretch
        self._stretches.append((stretch.from_mm, stretch.to_mm))
        self.strip.set_uninspected(self._stretches)
        if self.config.operator.alarm_on_uninspected:
            self.banner.raise_alarm(
                f"{stretch.length_mm / 1000:.3f} m not inspected at "
                f"{stretch.from_mm / 1000:.3f} m: {'; '.join(stretch.reasons)}"
            )

    def _on_alarm(self, event: Alarm) -> None:
        if event.kind == "source_fault":  # defects and stretches alarm by the window's rules
            self.banner.raise_alarm(f"camera/source: {event.message}")

    def _on_source(self, event: SourceNotice) -> None:
        notice = event.event
        severity = str(notice.severity)
        light = {"fault": Light.BAD, "warning": Light.WARN}.get(severity, Light.GOOD)
        self.lights.set("source", light, str(notice.kind).replace("_", " "), notice.message)

    def _on_figures(self, event: FiguresUpdated) -> None:
        figures = event.figures
        for key, readout in figure_readouts(figures).items():
            self.counters.set_value(key, readout.text, good=readout.good, tip=readout.tip)
        if self._recorder_ready() and self.session is not None:
            self._width_mm = self.session.pipeline.recorder.width_mm or self._width_mm
        self.strip.set_roll(
            length_mm=max(1000.0, figures.metres_seen * 1000), width_mm=self._width_mm
        )
        self._metres_inspected = figures.metres_inspected
        self._update_grade()

    def _on_status(self, event: StatusChanged) -> None:
        state = str(event.state)
        if state == "failed":
            self.lights.set("model", Light.BAD, "failed", event.message or "the pipeline failed")
            self.banner.raise_alarm(f"inspection stopped: {event.message}")
        self.state_line.setText(
            f"Pipeline {state}" + (f": {event.message}" if event.message else "")
        )

    def _on_previews(self, previews: list[WebPreview]) -> None:
        self.waterfall.add_previews(previews)

    def _overlay_changed(self, *_: object) -> None:
        self.waterfall.set_overlay(
            visible=self.overlay.isChecked(), opacity=self.opacity.value() / 100
        )

    _metres_inspected = 0.0

    def _update_grade(self) -> None:
        readout = live_grade(
            (shown.event.defect for shown in self.shown),
            width_mm=self.session.pipeline.recorder.width_mm if self._recorder_ready() else None,
            length_mm=self._metres_inspected * 1000,
            limit=self._roll_config().store.grade_limit_points_per_100yd2,
        )
        self.counters.set_value("grade", readout.text, good=readout.good, tip=readout.tip)

    def _recorder_ready(self) -> bool:
        session = self.session
        return (
            session is not None
            and session.phase in (Phase.RUNNING, Phase.STOPPING, Phase.ENDED)
            and hasattr(session.pipeline, "recorder")
        )

    # -- periodic: session phase, database, false alarms ---------------------------------

    def _tick(self) -> None:
        session = self.session
        if session is not None:
            self._follow_session(session)
        self._show_database()
        reading = self.store_watch.latest
        if reading is not None and reading.reachable:
            self.counters.set_value("false_alarms", str(reading.false_alarms))

    def _follow_session(self, session: RollSession) -> None:
        running = session.phase is Phase.RUNNING
        self.controls.set_running(running or session.needs_stop, busy=session.busy)
        if running and session.pipeline.finished and not session.busy:
            self.state_line.setText("The source ended: closing the roll ...")
            self.end_roll()
        if running and self.store_watch.roll_key is None and self._recorder_ready():
            roll_key = session.pipeline.recorder.roll_key
            if roll_key is not None:
                self.store_watch.roll_key = roll_key
                self.store_watch.read_now()
        info = session.pipeline.backend_info
        if info is not None and session.phase is Phase.RUNNING:
            pipeline = session.pipeline
            self.lights.set(
                "model",
                Light.GOOD,
                f"{info.name} {info.precision} on {info.device}",
                f"model {pipeline.config.model.path} ({info.model_hash[:12]}), "
                f"tiles {info.tile_px} px",
            )
            self.controls.show_model(
                model_readout(pipeline.config.model.path, pipeline.recipe, info)
            )
            if pipeline.recipe is not None and self._recipe_ranged is not session:
                self._recipe_ranged = session  # the recipe's sensitivity range, once per roll
                self.controls.set_sensitivity_range(*self._sensitivity_range())
        if session.phase is Phase.FAILED and session.problem and not session.busy:
            if self.lights.lights["model"].light is not Light.BAD:
                self.lights.set("model", Light.BAD, "not running", session.problem)
                self.banner.raise_alarm(session.problem)
            self.state_line.setText(f"Not inspecting: {session.problem}")
        if session.phase is Phase.ENDED and not session.busy and session.summary is not None:
            summary = session.summary
            self.state_line.setText(
                f"Roll {summary.lot_number} ended: {summary.metres_inspected:.2f} m inspected, "
                f"{summary.defect_count} defect(s), "
                f"{summary.metres_uninspected:.2f} m not inspected."
            )
            self.lights.set("source", Light.OFF, "stopped", "the roll ended")
            self.counters.set_value("inspected", f"{summary.metres_inspected:.2f} m")
            self.counters.set_value(
                "uninspected",
                f"{summary.metres_uninspected:.2f} m",
                good=summary.metres_uninspected == 0,
            )
            self._metres_inspected = summary.metres_inspected
            self._update_grade()
        if self._closing and not session.busy:
            if session.needs_stop:  # closed while the roll was still starting
                self.end_roll()
            else:
                self.close()

    def _show_database(self) -> None:
        session = self.session
        stats = None
        if session is not None and session.phase is Phase.RUNNING:
            stats = session.pipeline.store_stats()
        readout = database_light(stats, self.store_watch.latest)
        if readout is None:
            return
        was = self.lights.lights["database"].light
        self.lights.set("database", readout.light, readout.state, readout.reason)
        if readout.light in (Light.WARN, Light.BAD) and was is not readout.light:
            self.banner.raise_alarm(f"database {readout.state}: {readout.reason}")

    # -- closing ------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        """End the roll first (in the background); close when it is closed."""
        session = self.session
        if session is not None and (session.busy or session.needs_stop):
            self._closing = True
            if not session.busy:
                self.end_roll()
            self.state_line.setText("Ending the roll before closing ...")
            event.ignore()
            return
        self.ticker.stop()
        self.pump.stop()
        self.store_watch.stop()
        if self.images is not None:
            self.images.close()
        super().closeEvent(event)

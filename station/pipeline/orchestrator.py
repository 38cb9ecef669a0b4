"""The inspection pipeline: source -> assembly -> tiling -> inference -> extraction -> store.

::

    source thread --(source queue)--> assembly + tiling --(inference queue)-->
    inference --(result queue)--> extraction + store/events

Every queue is bounded. With ``pipeline.when_behind: drop_oldest`` (a live
camera) a full queue drops its oldest item and counts it, and the lines it
held are recorded as an uninspected stretch: every metre of the roll is
inspected or marked. With ``wait`` (replays, benchmarks) stages wait for
each other instead. Memory is bounded by the queue sizes times the size of a
block or tile row, plus the extraction band (bounded by
``extraction.max_defect_length_mm``).

Usage::

    pipeline = Pipeline(load_station_config("station.yaml"))
    pipeline.start()
    pipeline.wait(timeout_s=60)      # or until a signal
    summary = pipeline.stop()        # drain (bounded), close the roll, flush the store

Start-up refuses an unreachable database unless ``store.allow_offline_start``
is set (then records wait in the local journal, and the monitor warns and
alarms: :mod:`station.pipeline.monitor`).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from engines.backends.base import BackendInfo, InferenceBackend
from station.acquisition.base import LineSource
from station.pipeline.assembly import LinePositions, WebAssembler
from station.pipeline.builders import (
    ModelFacts,
    extraction_settings,
    make_source,
    model_facts,
    open_backend,
    start_source,
)
from station.pipeline.config import StationConfig
from station.pipeline.coverage import CoverageTracker
from station.pipeline.drain import wait_for_drain
from station.pipeline.errors import PipelineConfigError, PipelineStateError
from station.pipeline.events import (
    EventBus,
    PipelineState,
    StatusChanged,
    WebPreview,
)
from station.pipeline.extraction import DefectExtractor
from station.pipeline.figures import FiguresRecorder, PipelineFigures
from station.pipeline.gauges import PipelineGauges
from station.pipeline.metrics_endpoint import MetricsEndpoint
from station.pipeline.monitor import OutageWatch, StatusMonitor
from station.pipeline.preview import PreviewMaker
from station.pipeline.queues import StageQueue
from station.pipeline.recipe_selection import RecipeSelection
from station.pipeline.recorder import RollRecorder
from station.pipeline.roll_recipe import apply_roll_recipe, check_recipe_backend, run_settings
from station.pipeline.run_summary import RunSummary
from station.pipeline.sensitivity import check_sensitivity, record_sensitivity_change
from station.pipeline.source_events import SourceEventHandler
from station.pipeline.stages import AssemblyStage, ExtractionStage, InferenceStage, TilingParams
from station.pipeline.station_status import StationStatus
from station.pipeline.stitching import ScoreBand
from station.pipeline.store_opening import open_station_store
from station.store.store import DefectStore
from station.store.writer import WriterStats

logger = logging.getLogger(__name__)

INFERENCE_BEHIND = "inference fell behind"
EXTRACTION_BEHIND = "defect extraction fell behind"


class Pipeline:
    """One station's inspection pipeline for one roll.

    Args:
        config: The station configuration.
        bus: Where events go (a new bus if None); subscribe before :meth:`start`.
        backend: An open inference backend to use instead of the configured one
            (the caller closes it).
        store: An open store to use instead of opening ``config.store`` (the caller closes it).
    """

    def __init__(
        self,
        config: StationConfig,
        *,
        bus: EventBus | None = None,
        backend: InferenceBackend | None = None,
        store: DefectStore | None = None,
    ) -> None:
        self.config = config
        self.bus = bus or EventBus()
        self.state = PipelineState.STOPPED
        self.error: BaseException | None = None
        self._given_backend = backend
        self._given_store = store
        self._backend: InferenceBackend | None = None
        self._store: DefectStore | None = None
        self._source: LineSource | None = None
        self._threads: list[threading.Thread] = []
        self._abort = threading.Event()
        self._discard = threading.Event()
        self._finished = threading.Event()
        self._monitor: StatusMonitor | None = None
        self._metrics: MetricsEndpoint | None = None
        self._started_once = False
        self.offline_start = False
        self._writer_stats: WriterStats | None = None
        self.facts: ModelFacts | None = None
        self.recipe: RecipeSelection | None = None  # the roll's recipe (recipes.per_roll)
        self.sensitivity = 1.0

    # -- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Open the model, store and source; start the threads.

        Raises:
            PipelineStateError: started before.
            ConfigError: the configuration does not fit the model or the source.
            RollRefusedError: with ``recipes.per_roll``, the roll's recipe cannot be used.
            CrasStationError: the model, store or source cannot be opened.
        """
        if self._started_once:
            raise PipelineStateError(
                "this pipeline was started before", hint="make a new Pipeline for each roll"
            )
        self._started_once = True
        self._set_state(PipelineState.STARTING)
        try:
            self._open()
        except BaseException as error:
            self._close_resources()
            self._set_state(PipelineState.FAILED, str(error))
            raise
        self._set_state(PipelineState.RUNNING)

    def _open(self) -> None:
        self.config, self.recipe = apply_roll_recipe(self.config, store=self._given_store)
        config = self.config
        facts = model_facts(config.model)
        self.facts = facts
        if config.tiling.overlap_px >= facts.tile_px:
            raise PipelineConfigError(
                f"tiling.overlap_px = {config.tiling.overlap_px} is not smaller than the "
                f"model's tile size {facts.tile_px} px",
                hint=f"set tiling.overlap_px between 0 and {facts.tile_px - 1} "
                f"(e.g. {facts.tile_px // 8})",
            )
        self._start_metrics()
        if self._given_store is not None:
            self._store = self._given_store
        else:
            self._store, self.offline_start = open_station_store(config.store)
        self._backend = self._given_backend or open_backend(
            config.model, model_hash=facts.metadata.model_hash
        )
        info = self._backend.info
        check_recipe_backend(self.recipe, info.model_hash)
        if (info.tile_px, info.in_channels) != (facts.tile_px, facts.in_channels):
            raise PipelineConfigError(
                f"model.backend: the {info.name} backend runs {info.tile_px} px x "
                f"{info.in_channels} channel tiles, the model folder says {facts.tile_px} px x "
                f"{facts.in_channels}",
                hint="rebuild the engine or export from this model folder",
            )
        mm_per_line = config.mm_per_line
        self.tracker = CoverageTracker(mm_per_line=mm_per_line)
        self.figures = FiguresRecorder(
            mm_per_line=mm_per_line, rate_window_s=config.pipeline.rate_window_s
        )
        self.recorder = RollRecorder(
            self._store,
            station=config.station.name,
            lot_number=config.roll.lot_number,
            fabric_type=config.roll.fabric_type
            or (facts.classes[0] if len(facts.classes) == 1 else "unspecified"),
            width_mm=config.roll.width_mm,
            model=facts.version_info(config.model.path.name or str(config.model.path)),
            settings=run_settings(config, self.recipe),
            roll=config.roll,
            run_fields=self.recipe.run_fields if self.recipe is not None else None,
        )
        waits = config.pipeline.when_behind == "wait"
        self.inference_queue: StageQueue[Any] = StageQueue(
            config.pipeline.inference_queue_rows,
            name="inference",
            on_drop=lambda item: self._lost_row(item, INFERENCE_BEHIND),
            wait_when_full=waits,
        )
        self.result_queue: StageQueue[Any] = StageQueue(
            config.pipeline.result_queue_rows,
            name="extraction",
            on_drop=lambda item: self._lost_row(item, EXTRACTION_BEHIND),
            wait_when_full=waits,
        )
        self.assembler = WebAssembler(
            tile_px=facts.tile_px,
            overlap_px=config.tiling.overlap_px,
            positions=LinePositions(
                mm_per_line=mm_per_line, use_encoder=config.geometry.position_from == "encoder"
            ),
            max_background_fraction=config.tiling.max_background_fraction,
            edge_gap_px=config.tiling.edge_gap_px,
        )
        self._source = make_source(
            config,
            on_event=SourceEventHandler(
                bus=self.bus,
                tracker=self.tracker,
                recorder=self.recorder,
                alarm_on_fault=config.alarm.on_source_fault,
            ),
        )
        start_source(self._source, section=config.source.kind)
        device = getattr(self._source, "device", None)  # a camera's DeviceDescription
        if device is not None:
            self.recorder.camera_serial = device.serial_number or None
            self.recorder.camera_model = device.model or None
        self._make_stages(facts)

    def _make_stages(self, facts: ModelFacts) -> None:
        config = self.config
        assert self._source is not None and self._backend is not None
        self.assembly = AssemblyStage(
            source=self._source,
            assembler=self.assembler,
            tiling=TilingParams(facts.tile_px, config.tiling.overlap_px, facts.in_channels),
            out_queue=self.inference_queue,
            recorder=self.recorder,
            figures=self.figures,
            mm_per_px=config.mm_per_px,
            abort=self._abort,
        )
        self.inference = InferenceStage(
            backend=self._backend,
            in_queue=self.inference_queue,
            out_queue=self.result_queue,
            batch_size=config.model.batch_size,
            tracker=self.tracker,
            figures=self.figures,
            discard=self._discard,
        )
        self.band = ScoreBand()  # takes the line width from the first row
        preview = None
        if self.bus.asked_for(WebPreview):  # a live view subscribed before start()
            preview = PreviewMaker(
                mm_per_px=config.mm_per_px,
                mm_per_line=config.mm_per_line,
                display_width_px=config.preview.width_px,
                rate_hz=config.preview.rate_hz,
            )
        self.extraction = ExtractionStage(
            in_queue=self.result_queue,
            band=self.band,
            extractor=DefectExtractor(
                self.band,
                extraction_settings(config, facts),
            ),
            tracker=self.tracker,
            recorder=self.recorder,
            bus=self.bus,
            figures=self.figures,
            alarm_min_points=config.alarm.min_points,
            alarm_on_uninspected=config.alarm.on_uninspected,
            end_line=lambda: self.assembler.lines_seen_until,
            preview=preview,
        )
        bodies = {
            "assembly": self.assembly.run,
            "inference": self.inference.run,
            "extraction": self.extraction.run,
        }
        self._threads = [
            threading.Thread(target=self._guard(name, body), name=f"pipeline-{name}", daemon=True)
            for name, body in bodies.items()
        ]
        self.gauges = PipelineGauges(
            config=config,
            source=self._source,
            assembler=self.assembler,
            tracker=self.tracker,
            figures=self.figures,
            stage_queues=(self.inference_queue, self.result_queue),
            store_stats=self.store_stats,
            state=lambda: str(self.state),
            offline_start=self.offline_start,
        )
        for thread in self._threads:
            thread.start()
        self._start_monitor()

    def _start_monitor(self) -> None:
        config = self.config
        self._monitor = StatusMonitor(
            make_status=self.status_now,
            bus=self.bus,
            outages=OutageWatch(config.store, self.bus),
            interval_s=config.pipeline.status_interval_s,
        )
        self._monitor.start()

    def _start_metrics(self) -> None:
        metrics = self.config.metrics
        if metrics.port is None:
            return
        self._metrics = MetricsEndpoint(
            host=metrics.host, port=metrics.port, latest=self.latest_status
        )
        self._metrics.start()
        logger.info("station figures served at %s", self._metrics.url)

    def wait(self, *, timeout_s: float | None = None) -> bool:
        """Wait until the source has ended and every stage has finished its work.

        Returns:
            True when the pipeline finished within ``timeout_s``.
        """
        return self._finished.wait(timeout=timeout_s)

    @property
    def finished(self) -> bool:
        """True once all work is done (source ended or stopped, queues drained)."""
        return self._finished.is_set()

    @property
    def backend_info(self) -> BackendInfo | None:
        """What the running backend is (name, device, precision, tile size), once started."""
        return self._backend.info if self._backend is not None else None

    @property
    def source(self) -> LineSource | None:
        """The running line source (e.g. for a synthetic source's planted defects)."""
        return self._source

    def stop(self, *, drain_timeout_s: float | None = None) -> RunSummary:
        """Stop the source, inspect what it delivered, close the roll and flush the store.

        The lines already acquired (the source's queue, the assembly buffer, the
        stage queues) are still inspected; the wait scales with that backlog and the
        measured tiles/s (:mod:`station.pipeline.drain`), at most ``drain_timeout_s``
        (default ``pipeline.drain_timeout_s``). Work still queued then is discarded
        and its lines are recorded as an uninspected stretch.

        Returns:
            The run's summary (``error`` set when a stage failed).
        """
        if self.state not in (PipelineState.RUNNING, PipelineState.FAILED) or not self._threads:
            raise PipelineStateError("the pipeline is not running", hint="call start() first")
        if self.state is PipelineState.RUNNING:
            self._set_state(PipelineState.STOPPING)
        runtime = self.config.pipeline
        max_s = runtime.drain_timeout_s if drain_timeout_s is None else drain_timeout_s
        assert self._source is not None
        self._source.stop()
        backlog = self.gauges.backlog()
        done, waited_s = wait_for_drain(
            lambda timeout_s: self._finished.wait(timeout=timeout_s),
            self.gauges.backlog,
            self.gauges.tiles_per_s,
            margin=runtime.drain_margin,
            min_s=runtime.drain_min_s,
            max_s=max_s,
        )
        if done:
            logger.info(
                "stopped: %.0f queued tile row(s) inspected in %.1f s", backlog.rows, waited_s
            )
        else:
            logger.warning(
                "stopping: %.0f tile row(s) still queued after %.1f s (bound %.1f s, "
                "pipeline.drain_timeout_s); discarded and recorded as not inspected",
                self.gauges.backlog().rows,
                waited_s,
                max_s,
            )
            self._discard.set()
            for queue in (self.inference_queue, self.result_queue):
                queue.stop_waiting()
        for thread in self._threads:
            thread.join(timeout=60.0)
            if thread.is_alive():
                logger.error("%s did not finish; the roll is closed without it", thread.name)
        if self._monitor is not None:
            self._monitor.stop()
            self._monitor.report()  # the final figures
        self.recorder.finish(
            length_inspected_mm=self.tracker.inspected_lines * self.config.mm_per_line
        )
        self._close_resources()
        summary = self._summary()
        self._set_state(
            PipelineState.FAILED if self.error else PipelineState.STOPPED,
            str(self.error) if self.error else "",
        )
        return summary

    def store_stats(self) -> WriterStats | None:
        """The store writer's counters now (database online, journal backlog), while open."""
        store = self._store
        if store is None:
            return None
        return store.writer.stats()

    def set_sensitivity(self, sensitivity: float, *, user: str, engineer: bool = False) -> float:
        """Divide the model's threshold by ``sensitivity`` from the next tile row on (any thread).

        The change is recorded as a ``setting_change`` event of the roll naming ``user``.

        Args:
            sensitivity: 1 = the threshold the station was configured with; above 1 finds
                fainter defects.
            user: Who changed it.
            engineer: Check against the engineers' wider range (``operator.engineer_*``).

        Returns:
            The threshold now in use.

        Raises:
            PipelineStateError: the pipeline is not running.
            PipelineConfigError: ``sensitivity`` lies outside the allowed range.
        """
        if self.state is not PipelineState.RUNNING or self.facts is None:
            raise PipelineStateError(
                "the sensitivity can only change while the pipeline runs", hint="start a roll first"
            )
        check_sensitivity(sensitivity, self.config.operator, engineer=engineer)
        threshold = self.facts.threshold / sensitivity
        previous, self.sensitivity = self.sensitivity, sensitivity
        self.extraction.set_threshold(threshold)
        record_sensitivity_change(
            self.recorder,
            previous=previous,
            sensitivity=sensitivity,
            threshold=threshold,
            user=user,
        )
        return threshold

    def figures_now(self) -> PipelineFigures:
        """Current figures (rates are moving averages over ``pipeline.rate_window_s``)."""
        return self.gauges.snapshot()

    def status_now(self) -> StationStatus:
        """A status report now: the figures and the store's state."""
        return self.gauges.status()

    def latest_status(self) -> StationStatus | None:
        """The newest report the monitor made (what the status line and /metrics show)."""
        return self._monitor.latest if self._monitor is not None else None

    @property
    def last_figures(self) -> PipelineFigures | None:
        """The figures of the newest report."""
        status = self.latest_status()
        return status.figures if status is not None else None

    # -- internals -----------------------------------------------------------------------

    def _guard(self, name: str, body: Any) -> Any:
        def run() -> None:
            try:
                body()
            except BaseException as error:
                self._fail(name, error)
            finally:
                if name == "extraction":
                    self._finished.set()

        return run

    def _fail(self, stage: str, error: BaseException) -> None:
        if self.error is None:
            self.error = error
        logger.error("pipeline %s stage failed: %s", stage, error, exc_info=error)
        self._abort.set()
        self._discard.set()
        for queue in (self.inference_queue, self.result_queue):
            queue.stop_waiting()
        self._set_state(PipelineState.FAILED, f"{stage}: {error}")

    def _lost_row(self, item: Any, reason: str) -> None:
        row = item.row
        self.tracker.note_loss(row.first_line, row.end_line, reason)

    def _summary(self) -> RunSummary:
        figures = self.gauges.snapshot()
        stretches = tuple(self.extraction.stretches)
        return RunSummary(
            lot_number=self.recorder.lot_number if self.recorder.started else None,
            roll_key=self.recorder.roll_key,
            metres_seen=figures.metres_seen,
            metres_inspected=figures.metres_inspected,
            metres_uninspected=figures.metres_uninspected,
            stretches=stretches,
            defects=tuple(self.extraction.defects),
            defect_count=self.recorder.defects,
            points=self.recorder.points,
            source_dropped_blocks=figures.source_dropped_blocks,
            dropped_rows=figures.dropped_rows + self.inference.discarded_rows,
            lines=figures.lines,
            tiles=figures.tiles,
            mean_lines_per_s=figures.mean_lines_per_s,
            mean_tiles_per_s=figures.mean_tiles_per_s,
            max_band_lines=self.extraction.max_band_lines,
            max_queue_depths={q.name: q.max_depth for q in figures.queues},
            writer=self._writer_stats,
            error=self.error,
        )

    def _close_resources(self) -> None:
        if self._monitor is not None:
            self._monitor.stop()
        if self._metrics is not None:
            self._metrics.close()
            self._metrics = None
        if self._source is not None and self._source.is_running:
            self._source.stop()
        if self._store is not None and self._given_store is None:
            self._writer_stats = self._store.close(timeout_s=30.0)
        elif self._store is not None:
            self._store.writer.flush(timeout_s=30.0)
        self._store = None
        if self._backend is not None and self._given_backend is None:
            self._backend.close()
        self._backend = None

    def _set_state(self, state: PipelineState, message: str = "") -> None:
        self.state = state
        self.bus.publish(StatusChanged(state=state, message=message))

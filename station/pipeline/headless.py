"""The pipeline run headless until its source ends, a limit is reached or it is told to stop.

What ``station run`` (and the systemd service) drives: alarms and uninspected
stretches go to the log as they happen, the station's newest status report
(the one ``/metrics`` serves) every ``status_every_s``, and stopping inspects
what was acquired and closes the roll
(:meth:`~station.pipeline.orchestrator.Pipeline.stop`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from station.pipeline.config import StationConfig
from station.pipeline.events import Alarm, UninspectedStretchFound
from station.pipeline.orchestrator import Pipeline
from station.pipeline.run_summary import RunSummary
from station.pipeline.summary_text import format_status

logger = logging.getLogger("station.run")

# How often the loop looks at the limits and the stop flag.
POLL_INTERVAL_S = 0.2


def run_headless(
    config: StationConfig,
    *,
    stop: threading.Event,
    max_metres: float | None = None,
    max_seconds: float | None = None,
    status_every_s: float = 10.0,
    on_started: Callable[[], None] | None = None,
) -> RunSummary:
    """Run the pipeline until its source ends, ``stop`` is set or a limit is reached.

    Args:
        config: The station's validated configuration.
        stop: Set it (from a signal handler, say) to stop cleanly.
        max_metres: Stop after this much web has passed.
        max_seconds: Stop after this many seconds.
        status_every_s: Log the pipeline's figures this often (0 = never).
        on_started: Called once the pipeline has started.

    Returns:
        The run's summary (its ``error`` is set when a stage failed).
    """
    pipeline = Pipeline(config)
    pipeline.bus.subscribe(lambda event: logger.warning("ALARM %s", event.message), kinds=(Alarm,))
    pipeline.bus.subscribe(
        lambda event: logger.info("uninspected stretch recorded: %s", event.stretch.describe()),
        kinds=(UninspectedStretchFound,),
    )
    pipeline.start()
    if on_started is not None:
        on_started()
    started = time.monotonic()
    last_status = started
    try:
        while not stop.is_set() and not pipeline.finished:
            figures = pipeline.figures_now()
            if max_metres is not None and figures.metres_seen >= max_metres:
                logger.info("--max-metres %.3f reached", max_metres)
                break
            now = time.monotonic()
            if max_seconds is not None and now - started >= max_seconds:
                logger.info("--max-seconds %.1f reached", max_seconds)
                break
            status = pipeline.latest_status()
            if status_every_s > 0 and now - last_status >= status_every_s and status is not None:
                logger.info("%s", format_status(status))
                last_status = now
            stop.wait(timeout=POLL_INTERVAL_S)
    finally:
        summary = pipeline.stop()
    return summary

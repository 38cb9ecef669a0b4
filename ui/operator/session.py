"""One roll's pipeline, started and stopped off the GUI thread (no Qt here).

Opening the model and the store takes seconds and stopping drains queues, so
both run in a short-lived thread; the window polls :attr:`RollSession.phase`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from enum import StrEnum

from station.pipeline.config import StationConfig
from station.pipeline.events import EventBus
from station.pipeline.orchestrator import Pipeline
from station.pipeline.run_summary import RunSummary
from training.errors import CrasStationError

logger = logging.getLogger(__name__)


class Phase(StrEnum):
    """Where a roll session is."""

    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    ENDED = "ended"
    FAILED = "failed"  # could not start, or a stage failed


@dataclass(frozen=True)
class RollDetails:
    """What the operator enters for a new roll (None / empty = the configuration's)."""

    lot_number: str = ""
    fabric_type: str = ""
    width_mm: float | None = None


def message_of(error: BaseException) -> str:
    """One line for people: our errors' message and hint, else the exception's text."""
    if isinstance(error, CrasStationError):
        return f"{error.message} ({error.hint})" if error.hint else error.message
    return f"{type(error).__name__}: {error}"


class RollSession:
    """Runs one :class:`Pipeline` for one roll.

    Args:
        config: The station configuration (not changed; the roll's details go into a copy).
        roll: The roll's lot number, fabric and width.
    """

    def __init__(self, config: StationConfig, roll: RollDetails) -> None:
        overrides = {
            "lot_number": roll.lot_number or config.roll.lot_number,
            "fabric_type": roll.fabric_type or config.roll.fabric_type,
            "width_mm": roll.width_mm or config.roll.width_mm,
        }
        roll_section = config.roll.model_copy(update=overrides)
        self.config = config.model_copy(update={"roll": roll_section})
        self.bus = EventBus()
        self.pipeline = Pipeline(self.config, bus=self.bus)
        self.phase = Phase.STARTING
        self.problem = ""
        self.summary: RunSummary | None = None
        self._thread: threading.Thread | None = None
        self._needs_stop = False

    def begin(self) -> None:
        """Start the pipeline in a thread (subscribe to :attr:`bus` first)."""
        self._thread = threading.Thread(target=self._start, name="operator-roll-start")
        self._thread.start()

    def end(self) -> None:
        """Stop the pipeline in a thread: drain, close the roll, flush the store."""
        self.join()
        if not self._needs_stop:
            return
        self._needs_stop = False
        self.phase = Phase.STOPPING
        self._thread = threading.Thread(target=self._stop, name="operator-roll-stop")
        self._thread.start()

    def join(self, *, timeout_s: float | None = None) -> None:
        """Wait for the start or stop thread (if any)."""
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)

    @property
    def busy(self) -> bool:
        """True while starting or stopping."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def needs_stop(self) -> bool:
        """True from a successful start until :meth:`end` was called."""
        return self._needs_stop

    def _start(self) -> None:
        try:
            self.pipeline.start()
        except Exception as error:
            logger.warning("the roll could not start: %s", message_of(error))
            self.problem = message_of(error)
            self.phase = Phase.FAILED
            return
        self._needs_stop = True
        self.phase = Phase.RUNNING

    def _stop(self) -> None:
        try:
            self.summary = self.pipeline.stop()
        except Exception as error:
            logger.error("stopping the roll failed: %s", message_of(error))
            self.problem = message_of(error)
            self.phase = Phase.FAILED
            return
        if self.summary.error is not None:
            self.problem = message_of(self.summary.error)
            self.phase = Phase.FAILED
        else:
            self.phase = Phase.ENDED

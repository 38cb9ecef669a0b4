"""An endless procedural fabric web with planted defects and their ground truth.

Wraps the training data's :class:`~training.data.fabric.web.FabricWeb` as a
line source: the station, its tests and demos can run a whole roll with
known defects and no camera. Every block carries its defect mask
(``Lines.truth_mask``), and the source keeps the list of planted defects with
their boxes in absolute line numbers (:attr:`SyntheticFabricSource.planted_defects`),
including those in blocks a slow consumer lost.
"""

from __future__ import annotations

import threading
import time

from station.acquisition.base import EventCallback, LineSource
from station.acquisition.config import SyntheticConfig
from station.acquisition.lines import Lines, Severity, SourceEventKind
from station.acquisition.pacing import LinePacer
from training.public import DefectTruth, FabricWeb, fabric_style_preset


class SyntheticFabricSource(LineSource):
    """Synthetic woven fabric delivered as line blocks, paced like a camera if asked.

    Args:
        config: Fabric preset, size, seed, defect rate and pacing.
        on_event: Called for every event.
        name: Shown in events and logs.

    Raises (from :meth:`start`):
        FabricRenderError: the fabric generator refuses the parameters.
    """

    def __init__(
        self,
        config: SyntheticConfig,
        *,
        on_event: EventCallback | None = None,
        name: str = "synthetic fabric",
    ) -> None:
        super().__init__(name=name, queue_blocks=config.queue_blocks, on_event=on_event)
        self.config = config
        self._web: FabricWeb | None = None
        self._planted: dict[int, DefectTruth] = {}
        self._planted_lock = threading.Lock()

    @property
    def planted_defects(self) -> list[DefectTruth]:
        """Defects seen so far in delivered (or dropped) blocks, by id; boxes in absolute lines."""
        with self._planted_lock:
            return [self._planted[key] for key in sorted(self._planted)]

    @property
    def mm_per_line(self) -> float:
        """Roll advance per line, mm."""
        return self.config.mm_per_line or self.config.mm_per_px

    def _open(self) -> None:
        config = self.config
        self._web = FabricWeb(
            fabric_style_preset(config.fabric_preset),
            width_px=config.width_px,
            seed=config.seed,
            defects_per_metre=config.defects_per_metre,
            mm_per_px=config.mm_per_px,
            mm_per_line=config.mm_per_line,
            channels=config.output_channels,
            kinds=config.defect_kinds,
        )
        with self._planted_lock:
            self._planted.clear()

    def _close(self) -> None:
        self._web = None

    def _produce(self) -> None:
        web = self._web
        assert web is not None
        pacer = LinePacer(line_rate_hz=self.config.line_rate_hz, stop_event=self._stop_requested)
        total = self.config.total_lines
        while not self._stop_requested.is_set():
            lines = self.config.lines_per_block
            if total is not None:
                lines = min(lines, total - web.next_line)
                if lines <= 0:
                    break
            block = web.next_block(lines)
            with self._planted_lock:
                for defect in block.defects:
                    self._planted.setdefault(defect.defect_id, defect)
            if not pacer.wait_for_line(block.first_line + lines):
                return
            self._publish(
                Lines(
                    pixels=block.pixels,
                    first_line=block.first_line,
                    timestamp_s=time.time(),
                    truth_mask=block.mask,
                ),
                wait_for_space=not pacer.paced,
            )
        if total is not None and web.next_line >= total:
            self._emit(
                SourceEventKind.END_OF_ROLL,
                Severity.INFO,
                f"{self.name}: end of roll after {web.next_line} lines",
                lines=web.next_line,
            )

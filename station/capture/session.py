"""Record good fabric from the station's source into a training set (``station capture``).

The source is the one ``station.yaml`` configures (camera, replay or synthetic),
built and started as the pipeline does (:func:`~station.pipeline.builders.make_source`,
:func:`~station.pipeline.builders.start_source`). Its blocks go through the
pipeline's :class:`~station.pipeline.assembly.WebAssembler` with rows of
``strip_lines`` lines and no overlap; each row, cropped to its web span, is a
strip. Strips that pass the rules in :mod:`station.capture.strips` are written
as PNGs into ``OUT/FABRIC/`` with the manifest beside them
(:mod:`station.capture.manifest`). The capture ends after ``metres`` of roll,
when the source ends, or when ``stop`` is set (Ctrl-C); the manifest is
written in every case.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from station.acquisition.base import LineSource
from station.acquisition.errors import SourceFinishedError
from station.acquisition.lines import Severity, SourceEvent
from station.capture.manifest import (
    next_capture_number,
    prepare_fabric_folder,
    read_manifest,
    write_manifest,
)
from station.capture.request import CaptureRequest
from station.capture.strip_writer import StripWriter, new_capture_record, now_iso
from station.capture.strips import ModelFlagger
from station.pipeline.assembly import LinePositions, WebAssembler
from station.pipeline.builders import make_source, model_facts, open_backend, start_source
from training.public import ConfigError

logger = logging.getLogger("station.capture")

CaptureProgress = Callable[[float, int], None]
"""Called as ``progress(metres_captured, strips_written)`` after each strip of roll."""

MANIFEST_EVERY_S = 1.0
"""The manifest is rewritten during a capture at most this often ..."""
MANIFEST_TIME_SHARE = 0.05
"""... and at most this share of the time (a long capture's manifest takes longer to write)."""


@dataclass(frozen=True)
class CaptureResult:
    """What a capture wrote: its manifest record, the manifest, the fabric folder."""

    record: dict[str, Any]
    manifest_path: Path
    folder: Path


class _EventCounter:
    """Counts the source's warnings and faults by kind for the manifest (the source logs them)."""

    def __init__(self, record: dict[str, Any]) -> None:
        self.counts: dict[str, int] = record["source_events"]

    def __call__(self, event: SourceEvent) -> None:
        if event.severity != Severity.INFO:
            self.counts[str(event.kind)] = self.counts.get(str(event.kind), 0) + 1


def _open_flagger(request: CaptureRequest) -> tuple[ModelFlagger | None, dict[str, Any] | None]:
    if not request.skip_defects:
        return None, None
    config = request.config
    facts = model_facts(config.model)
    if facts.tile_px > request.strip_lines:
        raise ConfigError(
            f"--strip-lines {request.strip_lines} is shorter than the model's tile "
            f"({facts.tile_px} px), so --skip-defects cannot score the strips",
            hint=f"use --strip-lines {facts.tile_px} or more",
        )
    backend = open_backend(config.model, model_hash=facts.metadata.model_hash)
    overlap_px = min(config.tiling.overlap_px, facts.tile_px - 1)
    flagger = ModelFlagger(backend, threshold=facts.threshold, overlap_px=overlap_px)
    described = {
        "path": str(config.model.path),
        "sha256": facts.metadata.model_hash,
        "pixel_threshold": facts.threshold,
    }
    return flagger, described


def _record(
    request: CaptureRequest,
    source: LineSource,
    assembler: WebAssembler,
    writer: StripWriter,
    *,
    stop: threading.Event,
    progress: CaptureProgress | None,
) -> str:
    """Feed blocks to the writer until done; returns why it stopped."""
    record = writer.record
    next_write = time.monotonic() + MANIFEST_EVERY_S
    while not stop.is_set():
        try:
            block = source.try_read(timeout_s=0.2)
        except SourceFinishedError:
            return "source_ended"
        if block is None:
            continue
        writer.known.add(block)
        for row in assembler.add(block):
            writer.take(row)
            if progress is not None:
                progress(record["metres_captured"], record["strips_written"])
            if record["metres_captured"] >= request.metres:
                return "metres"
        if time.monotonic() >= next_write:
            began = time.monotonic()
            write_manifest(writer.folder, writer.manifest)
            took = time.monotonic() - began
            next_write = began + max(MANIFEST_EVERY_S, took / MANIFEST_TIME_SHARE)
    return "interrupted"


def capture_good_fabric(
    request: CaptureRequest,
    *,
    stop: threading.Event | None = None,
    progress: CaptureProgress | None = None,
) -> CaptureResult:
    """Record ``request.metres`` of good fabric into ``OUT/FABRIC`` (see the module docstring).

    Args:
        request: From :func:`capture_request`.
        stop: Set it (from a signal handler) to end the capture cleanly with what it has.
        progress: Called after each strip of roll.

    Returns:
        The capture's manifest record (``stopped_by``: ``metres``, ``source_ended`` or
        ``interrupted``), the manifest's path and the fabric folder.

    Raises:
        CaptureOutputError: the output folder or its manifest cannot be used.
        CrasStationError: the source or the model could not be started, or the source
            failed (the manifest is still written; its ``stopped_by`` says ``error``).
    """
    stop = stop or threading.Event()
    config = request.config
    folder = prepare_fabric_folder(request.out_dir, request.fabric)
    manifest = read_manifest(folder, request.fabric)
    number = next_capture_number(folder, request.fabric, manifest)
    flagger, model = _open_flagger(request)
    record = new_capture_record(request, number, model)
    writer = StripWriter(request, folder, manifest, record, flagger)
    assembler = WebAssembler(
        tile_px=request.strip_lines,
        overlap_px=0,
        positions=LinePositions(
            mm_per_line=config.mm_per_line, use_encoder=config.geometry.position_from == "encoder"
        ),
        max_background_fraction=config.tiling.max_background_fraction,
        edge_gap_px=config.tiling.edge_gap_px,
    )
    source = make_source(config, on_event=_EventCounter(record))
    try:
        start_source(source, section=config.source.kind)
    except BaseException:
        if flagger is not None:
            flagger.backend.close()
        raise
    device = getattr(source, "device", None)  # a camera's DeviceDescription
    if device is not None:
        record["camera"] = {k: device.as_dict()[k] for k in ("vendor", "model", "serial_number")}
    manifest["captures"].append(record)
    manifest_path = write_manifest(folder, manifest)
    stopped_by = "interrupted"  # also what a KeyboardInterrupt leaves
    try:
        stopped_by = _record(request, source, assembler, writer, stop=stop, progress=progress)
    except Exception:
        stopped_by = "error"
        raise
    finally:
        source.stop()
        if flagger is not None:
            flagger.backend.close()
        record["stopped_by"] = stopped_by
        record["ended_at"] = now_iso()
        write_manifest(folder, manifest)
        logger.info(
            "capture %d of %s: %d strips, %.2f m kept of %.2f m (%s)",
            number,
            request.fabric,
            record["strips_written"],
            record["metres_kept"],
            record["metres_captured"],
            stopped_by,
        )
    return CaptureResult(record=record, manifest_path=manifest_path, folder=folder)

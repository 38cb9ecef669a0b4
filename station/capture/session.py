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

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from station.acquisition.base import LineSource
from station.acquisition.errors import SourceFinishedError
from station.acquisition.lines import Severity, SourceEvent
from station.capture.manifest import (
    check_fabric_name,
    next_capture_number,
    prepare_fabric_folder,
    read_manifest,
    save_strip,
    strip_file_name,
    write_manifest,
)
from station.capture.strips import (
    SKIP_MODEL,
    SKIP_NO_WEB,
    SKIP_OPERATOR,
    SKIP_REASONS,
    SKIP_TRUTH,
    KnownDefects,
    ModelFlagger,
    SkipRange,
    Strip,
    crop_to_web,
    parse_skip_range,
)
from station.pipeline.assembly import LinePositions, WebAssembler, WebRow
from station.pipeline.builders import make_source, model_facts, open_backend, start_source
from station.pipeline.config import StationConfig, load_station_config
from training.public import ConfigError

logger = logging.getLogger("station.capture")

CaptureProgress = Callable[[float, int], None]
"""Called as ``progress(metres_captured, strips_written)`` after each strip of roll."""

MANIFEST_EVERY_S = 1.0


@dataclass(frozen=True)
class CaptureRequest:
    """A validated capture: what to record, from which station, into where."""

    config: StationConfig
    config_path: Path
    fabric: str
    metres: float
    out_dir: Path
    skip_ranges: tuple[SkipRange, ...] = ()
    skip_defects: bool = False
    strip_lines: int = 256


def capture_request(
    config_path: Path,
    *,
    fabric: str,
    metres: float,
    out_dir: Path,
    skip: list[str] | None = None,
    skip_defects: bool = False,
    strip_lines: int = 256,
) -> CaptureRequest:
    """Check the options and load ``station.yaml``.

    Raises:
        ConfigError: a bad option or configuration field (the message names it).
    """
    check_fabric_name(fabric)
    if not metres > 0:
        raise ConfigError(f"--metres must be > 0, got {metres}", hint="e.g. --metres 50")
    if not 32 <= strip_lines <= 4096:
        raise ConfigError(
            f"--strip-lines must be from 32 to 4096, got {strip_lines}",
            hint="use at least the tile size you will train with (default 256)",
        )
    return CaptureRequest(
        config=load_station_config(config_path),
        config_path=Path(config_path),
        fabric=fabric,
        metres=float(metres),
        out_dir=Path(out_dir),
        skip_ranges=tuple(parse_skip_range(text) for text in skip or ()),
        skip_defects=skip_defects,
        strip_lines=strip_lines,
    )


@dataclass(frozen=True)
class CaptureResult:
    """What a capture wrote: its manifest record, the manifest, the fabric folder."""

    record: dict[str, Any]
    manifest_path: Path
    folder: Path


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


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


def _new_record(
    request: CaptureRequest, number: int, model: dict[str, Any] | None
) -> dict[str, Any]:
    config = request.config
    return {
        "capture": number,
        "station": config.station.name,
        "fabric": request.fabric,
        "source_kind": config.source.kind,
        "camera": None,
        "mm_per_px": config.mm_per_px,
        "mm_per_line": config.mm_per_line,
        "strip_lines": request.strip_lines,
        "config_file": str(request.config_path),
        "config_sha256": hashlib.sha256(request.config_path.read_bytes()).hexdigest(),
        "started_at": _now_iso(),
        "ended_at": None,
        "stopped_by": "running",
        "metres_requested": request.metres,
        "metres_captured": 0.0,
        "metres_kept": 0.0,
        "strips_written": 0,
        "strips_skipped": dict.fromkeys(SKIP_REASONS, 0),
        "skip_ranges_m": [r.as_list() for r in request.skip_ranges],
        "skip_defects": model,
        "source_events": {},
        "strips": [],
    }


class _StripWriter:
    """Decides about each row and writes the good ones, keeping the record current."""

    def __init__(
        self,
        request: CaptureRequest,
        folder: Path,
        manifest: dict[str, Any],
        record: dict[str, Any],
        flagger: ModelFlagger | None,
    ) -> None:
        self.request = request
        self.folder = folder
        self.manifest = manifest
        self.record = record
        self.flagger: ModelFlagger | None = flagger
        self.known = KnownDefects()
        self.start_mm: float | None = None

    def take(self, row: WebRow) -> None:
        if self.start_mm is None:
            self.start_mm = float(row.along_mm[0])
        record = self.record
        strip = crop_to_web(row)
        reason = self._skip_reason(row, strip)
        length_m = row.num_lines * self.request.config.mm_per_line / 1000.0
        end_mm = float(row.along_mm[-1]) + self.request.config.mm_per_line
        record["metres_captured"] = round((end_mm - self.start_mm) / 1000.0, 4)
        self.known.forget_before(row.end_line)
        if reason is not None:
            record["strips_skipped"][reason] += 1
            return
        assert strip is not None
        name = strip_file_name(self.request.fabric, record["capture"], len(record["strips"]))
        save_strip(self.folder / name, strip.pixels)
        record["strips"].append(
            {
                "file": name,
                "first_line": row.first_line,
                "from_m": round(strip.from_m - self.start_mm / 1000.0, 4),
                "to_m": round(strip.to_m - self.start_mm / 1000.0, 4),
                "left_px": strip.left,
                "right_px": strip.right,
            }
        )
        record["strips_written"] = len(record["strips"])
        record["metres_kept"] = round(record["metres_kept"] + length_m, 4)

    def _skip_reason(self, row: WebRow, strip: Strip | None) -> str | None:
        assert self.start_mm is not None
        from_m = (float(row.along_mm[0]) - self.start_mm) / 1000.0
        to_m = from_m + row.num_lines * self.request.config.mm_per_line / 1000.0
        if any(marked.overlaps(from_m, to_m) for marked in self.request.skip_ranges):
            return SKIP_OPERATOR
        if strip is None:
            return SKIP_NO_WEB
        if self.known.in_strip(strip):
            return SKIP_TRUTH
        if self.flagger is not None and self.flagger.flags(strip):
            return SKIP_MODEL
        return None


def _record(
    request: CaptureRequest,
    source: LineSource,
    assembler: WebAssembler,
    writer: _StripWriter,
    *,
    stop: threading.Event,
    progress: CaptureProgress | None,
) -> str:
    """Feed blocks to the writer until done; returns why it stopped."""
    record = writer.record
    last_written = time.monotonic()
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
        if time.monotonic() - last_written >= MANIFEST_EVERY_S:
            write_manifest(writer.folder, writer.manifest)
            last_written = time.monotonic()
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
    record = _new_record(request, number, model)
    writer = _StripWriter(request, folder, manifest, record, flagger)
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
        record["ended_at"] = _now_iso()
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

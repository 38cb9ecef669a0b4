"""Deciding about each strip of a capture, writing the good ones, and the capture's record.

The record is the capture's entry in the manifest (:mod:`station.capture.manifest`);
the writer keeps it current after every strip, so the manifest written at any
moment (and after Ctrl-C) matches the files in the folder.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from station.capture.manifest import save_strip, strip_file_name
from station.capture.request import CaptureRequest
from station.capture.strips import (
    SKIP_MODEL,
    SKIP_NO_WEB,
    SKIP_OPERATOR,
    SKIP_REASONS,
    SKIP_TRUTH,
    KnownDefects,
    ModelFlagger,
    Strip,
    crop_to_web,
)
from station.pipeline.assembly import WebRow


def now_iso() -> str:
    """The time now in UTC, ISO 8601 to the second (``2026-12-03T17:59:44+00:00``)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_capture_record(
    request: CaptureRequest, number: int, model: dict[str, Any] | None
) -> dict[str, Any]:
    """The manifest record of capture ``number`` as it starts (nothing written yet).

    Args:
        request: The capture.
        number: Its capture number in the fabric's folder.
        model: The model used for ``--skip-defects`` (path, hash, threshold), or None.
    """
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
        "started_at": now_iso(),
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


class StripWriter:
    """Decides about each row and writes the good ones, keeping the record current.

    Args:
        request: The capture.
        folder: The fabric's folder.
        manifest: The whole manifest (the record is its last capture).
        record: This capture's record, from :func:`new_capture_record`.
        flagger: The model's judge for ``--skip-defects``, or None.
    """

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
        """Skip the row (counting why) or write it as a strip; update the figures."""
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

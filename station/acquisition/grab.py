"""Grab a few frames from a GenICam camera to PNG files, with a report of its settings.

What ``station camera grab`` does on a new station: open the camera through the
GenTL producer, apply the configured settings, read ``frames`` blocks, save each
as a PNG (grey for mono pixel formats) and write ``settings.json`` with the
device, pixel format, size, the settings applied and every feature read. The
report is written even when grabbing fails half-way, so what was read is not lost.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from station.acquisition.config import CameraConfig
from station.acquisition.harvesters_source import HarvestersSource
from station.acquisition.pixel_formats import PIXEL_FORMATS

SETTINGS_FILE = "settings.json"

GrabProgress = Callable[[int, int], None]
"""Called as ``progress(frames_done, frames_wanted)`` after each frame."""


@dataclass(frozen=True)
class GrabResult:
    """What :func:`grab_frames` wrote: the frames' file names and the settings report."""

    frame_files: tuple[str, ...]
    settings_path: Path


def grab_frames(
    config: CameraConfig,
    out_dir: Path,
    *,
    frames: int,
    progress: GrabProgress | None = None,
) -> GrabResult:
    """Read ``frames`` blocks from the camera into ``out_dir`` (PNGs and ``settings.json``).

    Each read waits at most ``config.frame_timeout_s``.

    Raises:
        AcquisitionError (and its kinds): the camera could not be opened or stopped sending.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"cti_path": str(config.cti_path), "frames": []}
    source = HarvestersSource(config)
    settings_path = out_dir / SETTINGS_FILE
    try:
        source.start()
        pixel_format = source.features.get("PixelFormat")
        spec = PIXEL_FORMATS.get(str(pixel_format))
        grey = spec is not None and spec.layout == "mono"
        report.update(
            device=source.device.as_dict() if source.device else None,
            pixel_format=pixel_format,
            width=source.features.get("Width"),
            height=source.features.get("Height"),
            settings_applied=[result.as_dict() for result in source.settings_report],
            features=source.features,
        )
        for index in range(frames):
            block = source.read(timeout_s=config.frame_timeout_s)
            pixels = block.pixels[:, :, 0] if grey else block.pixels
            name = f"frame_{index:04d}.png"
            Image.fromarray(pixels).save(out_dir / name)
            report["frames"].append(
                {"file": name, "shape": list(pixels.shape), "first_line": block.first_line}
            )
            if progress is not None:
                progress(index + 1, frames)
    finally:
        source.stop()
        report["stats"] = vars(source.stats)
        settings_path.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    return GrabResult(
        frame_files=tuple(frame["file"] for frame in report["frames"]),
        settings_path=settings_path,
    )

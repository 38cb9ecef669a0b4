"""The options of a capture, checked, with the station configuration they name."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from station.capture.manifest import check_fabric_name
from station.capture.strips import SkipRange, parse_skip_range
from station.pipeline.config import StationConfig, load_station_config
from training.public import ConfigError


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

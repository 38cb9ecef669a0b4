"""Typed configuration of the three sources (camera, replay, synthetic fabric).

Each model is strict (unknown fields are an error) and its validators say
what to do, so ``validate_config(CameraConfig, data, source="station.yaml")``
turns a mistake into one :class:`~training.errors.ConfigError` naming the field
and the fix.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from station.acquisition.pixel_formats import SUPPORTED_PIXEL_FORMATS
from training.public import DEFECT_KINDS, FABRIC_PRESETS, StrictModel

_NODE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SettingValue = bool | int | float | str


class CameraConfig(StrictModel):
    """A GenICam camera reached through a GenTL producer (``camera:`` in the station config).

    ``None`` for a setting means "leave the camera's own value"; the station then
    uses whatever the camera delivers.
    """

    cti_path: Path = Field(description="GenTL producer file (.cti) from the camera vendor")
    device: str | None = Field(
        default=None,
        description="device id, serial number or user-defined name; None = the only device",
    )
    pixel_format: str | None = Field(default=None, description="GenICam PixelFormat to set")
    width_px: int | None = Field(default=None, gt=0, description="GenICam Width: pixels per line")
    lines_per_frame: int | None = Field(
        default=None, gt=0, description="GenICam Height: lines per delivered frame"
    )
    line_rate_hz: float | None = Field(
        default=None,
        gt=0,
        description="AcquisitionLineRate; on area cameras AcquisitionFrameRate is set to "
        "line_rate_hz / lines_per_frame instead",
    )
    trigger_source: str | None = Field(
        default=None,
        description="line trigger source, e.g. Encoder0 or Line1 (TriggerSelector=LineStart, "
        "TriggerMode=On); None = free-running",
    )
    encoder_chunk_node: str | None = Field(
        default=None, description="chunk node holding the encoder count, e.g. ChunkEncoderValue"
    )
    mm_per_encoder_count: float | None = Field(
        default=None, gt=0, description="fabric travel per encoder count"
    )
    settings: dict[str, SettingValue] = Field(
        default_factory=dict,
        description="further GenICam nodes to set, in order, after the ones above",
    )
    output_channels: Literal[1, 3] = Field(default=1, description="1 = grey, 3 = RGB")
    frame_timeout_s: float = Field(default=2.0, gt=0, description="report a stall after this")
    num_buffers: int = Field(default=8, ge=2, le=256, description="driver buffers to announce")
    queue_blocks: int = Field(default=64, ge=1, description="output queue capacity in blocks")
    reconnect_attempts: int = Field(
        default=5, ge=0, description="tries after the camera is lost; 0 = give up at once"
    )
    reconnect_initial_delay_s: float = Field(default=0.5, ge=0)
    reconnect_max_delay_s: float = Field(default=5.0, ge=0)

    @field_validator("cti_path")
    @classmethod
    def _cti_exists(cls, path: Path) -> Path:
        if not path.is_file():
            raise ValueError(
                f"GenTL producer file {str(path)!r} does not exist; install the camera "
                "vendor's GenTL producer (or use the genicam package's viky.cti for a virtual "
                "camera) and set cti_path to its .cti file"
            )
        return path

    @field_validator("pixel_format")
    @classmethod
    def _pixel_format_supported(cls, name: str | None) -> str | None:
        if name is not None and name not in SUPPORTED_PIXEL_FORMATS:
            raise ValueError(
                f"pixel format {name!r} is not supported; use one of "
                + ", ".join(SUPPORTED_PIXEL_FORMATS)
            )
        return name

    @field_validator("settings")
    @classmethod
    def _settings_are_node_names(cls, settings: dict[str, SettingValue]) -> dict[str, SettingValue]:
        for name in settings:
            if not _NODE_NAME.match(name):
                raise ValueError(
                    f"{name!r} is not a GenICam node name (letters, digits and _ only); "
                    "copy node names from `station camera grab`'s settings.json"
                )
        return settings

    @model_validator(mode="after")
    def _encoder_fields_together(self) -> CameraConfig:
        if (self.encoder_chunk_node is None) != (self.mm_per_encoder_count is None):
            raise ValueError(
                "encoder_chunk_node and mm_per_encoder_count must be set together "
                "(the count means nothing without the distance per count)"
            )
        return self


class ReplayConfig(StrictModel):
    """Image files played back as a moving web (``replay:`` in the station config).

    A strip of H rows and W columns is H lines of W pixels: the fabric moves
    along the image's rows (for AITEX strips, 256 lines of 4096 pixels).
    """

    paths: list[Path] = Field(
        default_factory=list, description="image files and/or folders (their images by name)"
    )
    aitex_root: Path | None = Field(
        default=None, description="AITEX data set folder (NODefect_images, Defect_images)"
    )
    aitex_set: Literal["normal", "defective", "all"] = "normal"
    aitex_fabric: str | None = Field(
        default=None, description="AITEX fabric code (00, 02, 03, 05); None = all fabrics"
    )
    width_px: int | None = Field(
        default=None, gt=0, description="line width; None = the first image's width"
    )
    width_mismatch: Literal["pad", "error"] = Field(
        default="pad",
        description="pad: narrower images are padded on the right by repeating their last "
        "column, wider ones cropped on the right; error: refuse to start",
    )
    output_channels: Literal[1, 3] = 1
    lines_per_block: int = Field(default=256, gt=0)
    line_rate_hz: float | None = Field(
        default=None, ge=0, description="lines per second; None or 0 = as fast as possible"
    )
    loop: bool = False
    queue_blocks: int = Field(default=16, ge=1)

    @model_validator(mode="after")
    def _has_input(self) -> ReplayConfig:
        if not self.paths and self.aitex_root is None:
            raise ValueError("give paths (image files or folders) or aitex_root")
        return self


class SyntheticConfig(StrictModel):
    """An endless procedural fabric web with planted defects (``synthetic:`` in the config)."""

    fabric_preset: str = Field(description="a name from training.data.fabric FABRIC_PRESETS")
    width_px: int = Field(default=1024, gt=0)
    seed: int = Field(default=0, description="identity of the roll: same seed, same fabric")
    defects_per_metre: float = Field(default=1.0, ge=0)
    defect_kinds: list[str] | None = Field(
        default=None, description="kinds to plant (training.data.fabric DEFECT_KINDS); None = all"
    )
    mm_per_px: float = Field(default=0.1, gt=0, description="pixel size across the web")
    mm_per_line: float | None = Field(
        default=None, gt=0, description="roll advance per line; None = mm_per_px"
    )
    output_channels: Literal[1, 3] = 1
    lines_per_block: int = Field(default=256, gt=0)
    line_rate_hz: float | None = Field(
        default=None, ge=0, description="lines per second; None or 0 = as fast as possible"
    )
    total_lines: int | None = Field(
        default=None, gt=0, description="stop after this many lines; None = endless"
    )
    queue_blocks: int = Field(default=16, ge=1)

    @field_validator("fabric_preset")
    @classmethod
    def _known_preset(cls, name: str) -> str:
        if name not in FABRIC_PRESETS:
            raise ValueError(
                f"unknown fabric preset {name!r}; use one of " + ", ".join(FABRIC_PRESETS)
            )
        return name

    @field_validator("defect_kinds")
    @classmethod
    def _known_kinds(cls, kinds: list[str] | None) -> list[str] | None:
        if kinds == []:
            raise ValueError("give at least one defect kind, or leave defect_kinds out for all")
        unknown = [kind for kind in kinds or [] if kind not in DEFECT_KINDS]
        if unknown:
            raise ValueError(
                f"unknown defect kind(s) {unknown}; use some of " + ", ".join(DEFECT_KINDS)
            )
        return kinds

"""Acquisition: sources of line blocks (camera, replay, synthetic fabric).

Every source is a :class:`LineSource`: start it (or use it in a ``with``
block), then ``read(timeout_s=...)`` (raises on timeout) or
``try_read(timeout_s=...)`` (returns None) :class:`Lines` blocks.
"""

from station.acquisition.base import EventCallback, LineSource
from station.acquisition.config import CameraConfig, ReplayConfig, SyntheticConfig
from station.acquisition.errors import (
    AcquisitionError,
    CameraError,
    CameraGoneError,
    CameraNotFoundError,
    CameraSettingError,
    FrameFormatError,
    ProducerError,
    SourceFinishedError,
    SourceNotRunningError,
    SourceTimeoutError,
    UnsupportedPixelFormatError,
)
from station.acquisition.harvesters_source import HarvestersSource
from station.acquisition.lines import Lines, Severity, SourceEvent, SourceEventKind, SourceStats
from station.acquisition.pixel_formats import SUPPORTED_PIXEL_FORMATS, convert_pixels
from station.acquisition.replay_source import ReplaySource
from station.acquisition.synthetic_source import SyntheticFabricSource

__all__ = [
    "SUPPORTED_PIXEL_FORMATS",
    "AcquisitionError",
    "CameraConfig",
    "CameraError",
    "CameraGoneError",
    "CameraNotFoundError",
    "CameraSettingError",
    "EventCallback",
    "FrameFormatError",
    "HarvestersSource",
    "LineSource",
    "Lines",
    "ProducerError",
    "ReplayConfig",
    "ReplaySource",
    "Severity",
    "SourceEvent",
    "SourceEventKind",
    "SourceFinishedError",
    "SourceNotRunningError",
    "SourceStats",
    "SourceTimeoutError",
    "SyntheticConfig",
    "SyntheticFabricSource",
    "UnsupportedPixelFormatError",
    "convert_pixels",
]

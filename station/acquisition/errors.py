"""Errors a camera, a producer or a replay folder can cause, each with what to do.

All inherit from :class:`~training.errors.CrasStationError`, so the CLI prints
them as one message plus a hint. Configuration mistakes inherit from
:class:`~training.errors.ConfigError` as well, so callers that only care about
"the configuration is wrong" can catch that.
"""

from __future__ import annotations

from training.public import ConfigError, CrasStationError


class AcquisitionError(CrasStationError):
    """Base for everything that can go wrong while getting lines from a source."""


class SourceTimeoutError(AcquisitionError):
    """No line block arrived in time (raised by ``read``; ``try_read`` returns None instead)."""


class SourceFinishedError(AcquisitionError):
    """The source has delivered its last block (a replay that does not loop reached its end)."""


class SourceNotRunningError(AcquisitionError):
    """``read`` was called on a source that was never started or has been stopped."""


class ProducerError(AcquisitionError):
    """A GenTL producer (.cti) cannot be loaded or is already in use in this process."""


class CameraNotFoundError(AcquisitionError):
    """The configured camera is not among the devices the producer offers."""


class CameraError(AcquisitionError):
    """The camera refused an operation (open, start) or failed while streaming."""


class CameraGoneError(CameraError):
    """The camera disappeared and every reconnection attempt failed."""


class CameraSettingError(CameraError, ConfigError):
    """The camera rejected a configured setting (value out of range, format not offered)."""


class UnsupportedPixelFormatError(AcquisitionError, ConfigError):
    """A pixel format the station cannot convert to grey or RGB."""


class FrameFormatError(AcquisitionError):
    """A camera buffer does not hold the pixels its width, height and format promise."""

"""Exception types for errors a user can cause.

Every error that bad input, a missing file or the wrong hardware can cause is
raised as a :class:`CrasStationError` subclass. Its message says what
happened; its ``hint`` says what to do. The CLI prints both and exits with
status 2 instead of showing a traceback. Programming errors stay ordinary
exceptions so that they do show one.

The base lives in ``training`` because it is the lowest layer: ``engines``,
``station`` and ``ui`` all import from here.
"""

from __future__ import annotations


class CrasStationError(Exception):
    """Base for errors a user can cause and fix.

    Args:
        message: What happened, in one sentence.
        hint: What to do about it.
    """

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  what to do: {self.hint}" if self.hint else self.message


class ConfigError(CrasStationError):
    """A configuration file or command-line value is invalid."""


class WeightsNotFoundError(CrasStationError):
    """Backbone weights are missing, unreadable or do not fit the architecture."""


class DataError(CrasStationError):
    """A data set is missing, empty or malformed."""


class UnreadableImageError(DataError):
    """An image file cannot be decoded."""


class MaskMismatchError(DataError):
    """A ground-truth mask does not match its image."""


class UnknownClassError(DataError):
    """A requested class (fabric type) does not exist in the data set."""


class ModelFileError(CrasStationError):
    """A model file is missing, corrupt or incompatible with this code."""


class IncompatibleModelError(ModelFileError):
    """A model file was made for another backbone, tile size or version."""


class TrainingDidNotLearnError(CrasStationError):
    """Training ended without the discriminator learning anything useful."""

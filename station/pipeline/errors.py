"""Errors the inspection pipeline raises for problems a user can fix.

All are :class:`~training.errors.CrasStationError` subclasses: the message says
what happened, the ``hint`` what to do; the CLI prints both without a traceback.
"""

from __future__ import annotations

from training.public import ConfigError, CrasStationError


class PipelineError(CrasStationError):
    """Base for errors of the running pipeline (a stage failed, the source is gone)."""


class PipelineConfigError(PipelineError, ConfigError):
    """The station configuration does not fit the model or the source it names."""


class PipelineStateError(PipelineError):
    """A pipeline call came in the wrong order (e.g. ``start`` twice)."""

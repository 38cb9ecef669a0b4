"""Errors a caller of the fabric generator can cause (bad style, size or output folder)."""

from __future__ import annotations

from training.errors import ConfigError, DataError


class FabricStyleError(ConfigError):
    """A fabric style has an invalid field, or a preset name is unknown."""


class FabricRenderError(ConfigError):
    """A render, planting or web request has invalid sizes, counts or channels."""


class FabricDatasetError(DataError):
    """The synthetic data set cannot be written where it was asked to go."""

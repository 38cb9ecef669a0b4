"""Errors of the center-matching kernels that a user (or a deployment) can cause."""

from __future__ import annotations

from training.errors import CrasStationError


class KernelUnavailableError(CrasStationError):
    """The requested implementation cannot run here (no Triton, no GPU, no interpreter)."""


class CenterMatchInputError(CrasStationError, ValueError):
    """Features or centers have shapes or dtypes the center matcher cannot use.

    Also a :class:`ValueError`, like the PyTorch reference raises for the same input.
    """

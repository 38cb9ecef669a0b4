"""Errors of exports, engines and backends that a user (or a deployment) can cause.

Each says what happened and, in ``hint``, what to do. They inherit from
:mod:`training.errors` so the CLI prints them as one message plus a hint.
"""

from __future__ import annotations

from training.errors import CrasStationError, ModelFileError


class ExportError(CrasStationError):
    """An export cannot be made with the options given (format, precision, output path)."""


class ParityError(ExportError):
    """An exported artefact does not reproduce the PyTorch model within tolerance.

    Attributes:
        report_path: Where the parity report was written.
    """

    def __init__(self, message: str, *, hint: str = "", report_path: str = "") -> None:
        super().__init__(message, hint=hint)
        self.report_path = report_path


class ArtefactError(ModelFileError):
    """An exported artefact (ONNX file, engine file) is missing, corrupt or not ours."""


class EngineMismatchError(ArtefactError):
    """An engine file was built for another model, GPU or TensorRT version: rebuild it."""


class BackendUnavailableError(CrasStationError):
    """The requested inference backend cannot run on this machine (package, GPU missing)."""

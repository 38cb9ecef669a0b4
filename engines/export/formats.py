"""The export formats, as one table: name, file suffix, precisions, how to build and open.

Adding a format means adding a row here (architecture convention 4); the
pipeline (:mod:`engines.export.pipeline`), the CLI and the parity check read
the table and need no change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engines.backends.base import InferenceBackend
from engines.errors import ExportError
from engines.export.onnx_export import export_onnx
from training.cras.model import CrasModel


@dataclass(frozen=True)
class BuildRequest:
    """Everything a format's builder needs.

    Attributes:
        model: The loaded model (eval mode, CPU).
        metadata: Its ``ModelMetadata``.
        out: Artefact path (with the format's suffix).
        precision: "fp32" or "fp16".
        max_batch: Largest batch the artefact must take (engines: profile maximum).
        timing_cache: TensorRT timing cache file (None: beside the artefact).
        device_index: CUDA device for GPU formats.
    """

    model: CrasModel
    metadata: Any
    out: Path
    precision: str
    max_batch: int
    timing_cache: Path | None = None
    device_index: int = 0


@dataclass(frozen=True)
class ExportFormat:
    """One row of the table.

    Attributes:
        name: What ``--format`` takes.
        suffix: File suffix of the artefact.
        precisions: Precisions it can be exported in.
        description: One line for ``--help``.
        unavailable_reason: Returns why it cannot be built here, or None.
        build: Writes the artefact for a request.
        open_backend: Opens the written artefact for the parity check (path, max_batch).
    """

    name: str
    suffix: str
    precisions: tuple[str, ...]
    description: str
    unavailable_reason: Callable[[], str | None]
    build: Callable[[BuildRequest], None]
    open_backend: Callable[[Path, int], InferenceBackend]


def _build_onnx(request: BuildRequest) -> None:
    export_onnx(request.model, request.metadata, request.out, precision=request.precision)


def _open_onnx(path: Path, max_batch: int) -> InferenceBackend:
    from engines.backends.onnxruntime_backend import OnnxRuntimeBackend

    return OnnxRuntimeBackend(path, device="cpu", max_batch=max_batch)


def _onnx_unavailable() -> str | None:
    from engines.backends.onnxruntime_backend import onnxruntime_providers

    return None if onnxruntime_providers() else "onnxruntime is not installed (parity check)"


def intermediate_onnx_path(engine_path: Path) -> Path:
    """Where the ONNX graph an engine is built from is kept (beside the engine)."""
    return engine_path.with_name(engine_path.name + ".onnx")


def _build_tensorrt(request: BuildRequest) -> None:
    from engines.tensorrt.build import EngineBuildOptions, build_engine

    onnx_path = intermediate_onnx_path(request.out)
    export_onnx(request.model, request.metadata, onnx_path, precision=request.precision)
    cache = request.timing_cache or request.out.with_name("tensorrt.timing-cache")
    build_engine(
        onnx_path,
        request.out,
        options=EngineBuildOptions(
            max_batch=request.max_batch, timing_cache=cache, device_index=request.device_index
        ),
    )


def _open_tensorrt(path: Path, max_batch: int) -> InferenceBackend:
    from engines.backends.tensorrt_backend import TensorRTBackend

    return TensorRTBackend(path, max_batch=max_batch)


def _tensorrt_unavailable() -> str | None:
    from engines.tensorrt.environment import tensorrt_unavailable_reason

    return tensorrt_unavailable_reason()


EXPORT_FORMATS: dict[str, ExportFormat] = {
    "onnx": ExportFormat(
        name="onnx",
        suffix=".onnx",
        precisions=("fp32", "fp16"),
        description="one ONNX file (CenterMatch as a cras-domain node with a standard-op "
        "body); runs in ONNX Runtime as is",
        unavailable_reason=_onnx_unavailable,
        build=_build_onnx,
        open_backend=_open_onnx,
    ),
    "tensorrt": ExportFormat(
        name="tensorrt",
        suffix=".engine",
        precisions=("fp32", "fp16"),
        description="TensorRT engine for this GPU with the CenterMatch plugin (Triton PTX), "
        "header with model hash, TensorRT version and GPU",
        unavailable_reason=_tensorrt_unavailable,
        build=_build_tensorrt,
        open_backend=_open_tensorrt,
    ),
}


def export_format(name: str) -> ExportFormat:
    """Look up a format, with an error listing the known ones."""
    if name not in EXPORT_FORMATS:
        raise ExportError(
            f"unknown export format {name!r}", hint=f"use one of {', '.join(EXPORT_FORMATS)}"
        )
    return EXPORT_FORMATS[name]

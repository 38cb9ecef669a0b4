"""OpenVINO backend: an exported ONNX file on the CPU, several batches in flight.

The file is the one ``station export --format onnx`` writes. Its
``cras::CenterMatch`` node carries a standard-op function body; OpenVINO's ONNX
frontend has no rule for the custom node itself, so the function is inlined
(``onnx.inliner``) when the file is loaded: no separate artefact is needed.

The model is compiled in THROUGHPUT mode: OpenVINO splits the cores into
streams, and one infer request per stream is kept busy (plain
``start_async``/``wait`` in submission order: an ``AsyncInferQueue`` with a
Python callback deadlocked when it was released). A batch handed to
:meth:`infer` is cut into one piece per request, and a stream of batches
(:meth:`infer_batches`) overlaps them.

Execution precision: OpenVINO runs bf16 by default on CPUs that have it,
which does not reproduce the export within its fp32 tolerance, so the
default asks for f32 (``inference_precision="f32"``); "bf16" may be asked for
explicitly. The precision the compiled model really uses goes to the log and
to ``info.precision`` (the artefact's precision, or "bf16"/"fp16" when the
execution is coarser).
"""

from __future__ import annotations

import importlib.util
import logging
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from engines.backends.base import BackendInfo, InferenceBackend, InferenceResult
from engines.errors import ArtefactError, BackendUnavailableError
from engines.export.artefact import INPUT_NAME, OUTPUT_NAMES, ArtefactMetadata

log = logging.getLogger(__name__)

INFERENCE_PRECISIONS = ("f32", "bf16")
_PRECISION_NAMES = {"f32": "fp32", "bf16": "bf16", "f16": "fp16"}


_INSTALL_HINT = "pip install 'cras-station[openvino]', or use the onnxruntime backend"


def openvino_unavailable_reason() -> str | None:
    """Why OpenVINO cannot run here (None when it can)."""
    if importlib.util.find_spec("openvino") is None:
        return "openvino is not installed (pip install 'cras-station[openvino]')"
    return None


def _import_openvino() -> Any:
    """The openvino module, or our error naming the extra to install."""
    try:
        import openvino
    except ImportError:
        raise BackendUnavailableError(
            "the OpenVINO backend needs the openvino package", hint=_INSTALL_HINT
        ) from None
    return openvino


def load_openvino_onnx(path: Path) -> tuple[bytes, ArtefactMetadata]:
    """Read an ONNX export, inline its CenterMatch function, return it serialised.

    Raises:
        ArtefactError: the file is missing, unreadable or not a cras-station export.
    """
    import onnx
    from onnx import inliner

    if not path.is_file():
        raise ArtefactError(
            f"ONNX file {path} does not exist",
            hint="export it with `station export --format onnx`",
        )
    try:
        proto = onnx.load(str(path))
    except Exception:  # protobuf's DecodeError, or a truncated external-data file
        raise ArtefactError(
            f"{path} is not a readable ONNX file",
            hint="the file is truncated or corrupt; export it again with `station export`",
        ) from None
    props = {prop.key: prop.value for prop in proto.metadata_props}
    artefact = ArtefactMetadata.from_metadata_props(props, origin=path)
    return inliner.inline_local_functions(proto).SerializeToString(), artefact


class OpenVinoBackend(InferenceBackend):
    """Runs a ``station export --format onnx`` file with OpenVINO on the CPU.

    Args:
        onnx_path: The exported file (its metadata says classes, tile size, hash).
        max_batch: Largest batch handed to the backend in one piece.
        threads: CPU threads for all streams together; OpenVINO's default if None.
        inference_precision: "f32" (reproduces the export) or "bf16" (faster on
            CPUs with bf16 units, outside the export's fp32 tolerance).
        expected_model_hash: Refuse a file exported from another model.

    Raises:
        BackendUnavailableError: openvino is not installed, or an unknown precision.
        ArtefactError: the file is missing, corrupt, or not a cras-station export.
        EngineMismatchError: the file was exported from another model.
    """

    def __init__(
        self,
        onnx_path: str | Path,
        *,
        max_batch: int = 32,
        threads: int | None = None,
        inference_precision: str = "f32",
        expected_model_hash: str | None = None,
    ) -> None:
        reason = openvino_unavailable_reason()
        if reason is not None:
            raise BackendUnavailableError(
                f"the OpenVINO backend cannot run: {reason}",
                hint="pip install openvino, or use the onnxruntime backend",
            )
        if inference_precision not in INFERENCE_PRECISIONS:
            raise BackendUnavailableError(
                f"unknown OpenVINO inference precision {inference_precision!r}",
                hint=f"use one of {', '.join(INFERENCE_PRECISIONS)}",
            )
        ov = _import_openvino()
        path = Path(onnx_path)
        model_bytes, self.artefact = load_openvino_onnx(path)
        self.artefact.check_model_hash(expected_model_hash, origin=path)
        core = ov.Core()
        config: dict[str, object] = {
            "PERFORMANCE_HINT": "THROUGHPUT",
            "INFERENCE_PRECISION_HINT": inference_precision,
        }
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        try:
            model = core.read_model(model_bytes, b"")
            self._check_interface(model, path)
            self.compiled = core.compile_model(model, "CPU", config)
        except ArtefactError:
            raise
        except Exception as error:  # OpenVINO raises RuntimeError with a C++ trace
            first = str(error).strip().splitlines()[-1] if str(error).strip() else "unknown"
            raise ArtefactError(
                f"OpenVINO cannot compile {path}: {first[:300]}",
                hint="export it again with `station export --format onnx`",
            ) from None
        executed = self.compiled.get_property("INFERENCE_PRECISION_HINT").to_string()
        self.execution_precision = _PRECISION_NAMES.get(executed, executed)
        self.requests = int(self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        self._requests = [self.compiled.create_infer_request() for _ in range(self.requests)]
        self.path = path
        precision = (
            self.artefact.precision
            if self.execution_precision == "fp32"
            else self.execution_precision
        )
        self.info = BackendInfo(
            name="openvino",
            device="cpu",
            precision=precision,
            model_hash=self.artefact.model_hash,
            classes=self.artefact.classes,
            tile_px=self.artefact.tile_px,
            in_channels=self.artefact.in_channels,
            max_batch=max_batch,
        )
        log.info(
            "OpenVINO %s on CPU: %s file executed in %s, %d streams, %d infer requests",
            path.name,
            self.artefact.precision,
            self.execution_precision,
            int(self.compiled.get_property("NUM_STREAMS")),
            self.requests,
        )

    @staticmethod
    def _check_interface(model: object, path: Path) -> None:
        inputs = [port.get_any_name() for port in model.inputs]  # type: ignore[attr-defined]
        outputs = [port.get_any_name() for port in model.outputs]  # type: ignore[attr-defined]
        if inputs != [INPUT_NAME] or outputs != list(OUTPUT_NAMES):
            raise ArtefactError(
                f"{path} has inputs {inputs} and outputs {outputs}, expected "
                f"[{INPUT_NAME!r}] and {list(OUTPUT_NAMES)}",
                hint="export it again with `station export --format onnx`",
            )

    def _infer(self, tiles: np.ndarray) -> InferenceResult:
        """One batch, cut into a piece per infer request so that every stream works."""
        pieces = np.array_split(tiles, min(self.requests, len(tiles)))
        parts = list(self._infer_batches(np.ascontiguousarray(p) for p in pieces))
        if len(parts) == 1:
            return parts[0]
        return InferenceResult(*(np.concatenate(field) for field in zip(*parts, strict=True)))

    def _infer_batches(self, batches: Iterable[np.ndarray]) -> Iterator[InferenceResult]:
        """Keep every infer request busy; yield the results in submission order."""
        in_flight: deque[object] = deque()
        try:
            for index, batch in enumerate(batches):
                if len(in_flight) == len(self._requests):
                    yield _wait_for(in_flight.popleft())
                request = self._requests[index % len(self._requests)]
                request.start_async({0: batch})
                in_flight.append(request)
            while in_flight:
                yield _wait_for(in_flight.popleft())
        finally:
            for request in in_flight:  # a consumer that stopped early, or bad input
                request.wait()

    def close(self) -> None:
        self._requests = []
        self.compiled = None  # type: ignore[assignment]


def _wait_for(request: object) -> InferenceResult:
    """Wait for a started request and copy its outputs (the request is reused)."""
    request.wait()  # type: ignore[attr-defined]
    outputs = [request.get_output_tensor(i).data for i in range(len(OUTPUT_NAMES))]  # type: ignore[attr-defined]
    return InferenceResult(
        tile_score=np.array(outputs[0], dtype=np.float32),
        score_grid=np.array(outputs[1], dtype=np.float32),
        anomaly_map=np.array(outputs[2], dtype=np.float32),
        matched_class=np.array(outputs[3], dtype=np.int64),
    )

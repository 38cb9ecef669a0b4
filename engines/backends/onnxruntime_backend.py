"""ONNX Runtime backend: an exported ONNX file on the CPU, or on CUDA where ORT has it."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from engines.backends.base import BackendInfo, InferenceBackend, InferenceResult
from engines.errors import ArtefactError, BackendUnavailableError
from engines.export.artefact import INPUT_NAME, OUTPUT_NAMES, ArtefactMetadata

log = logging.getLogger(__name__)

CPU_PROVIDER = "CPUExecutionProvider"
CUDA_PROVIDER = "CUDAExecutionProvider"


def onnxruntime_providers() -> list[str]:
    """Execution providers of the installed ONNX Runtime ([] when it is not installed)."""
    try:
        import onnxruntime
    except ImportError:
        return []
    return list(onnxruntime.get_available_providers())


def default_intra_op_threads() -> int:
    """Threads for one session: the cores this process may use.

    ORT's own default counts physical cores of the whole machine, which
    oversubscribes a container or a station that pins the inference worker.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class OnnxRuntimeBackend(InferenceBackend):
    """Runs a ``station export --format onnx`` file with ONNX Runtime.

    Args:
        onnx_path: The exported file (its metadata says classes, tile size, hash).
        device: "cpu" or "cuda" (needs onnxruntime-gpu's CUDA provider).
        max_batch: Largest batch sent to one ``run`` call.
        intra_op_threads: Threads per operator; the usable cores if None.
        expected_model_hash: Refuse a file exported from another model.

    Raises:
        BackendUnavailableError: ONNX Runtime, or its CUDA provider, is missing.
        ArtefactError: the file is missing, corrupt, or not a cras-station export.
        EngineMismatchError: the file was exported from another model.
    """

    def __init__(
        self,
        onnx_path: str | Path,
        *,
        device: str = "cpu",
        max_batch: int = 32,
        intra_op_threads: int | None = None,
        expected_model_hash: str | None = None,
    ) -> None:
        try:
            import onnxruntime
        except ImportError:
            raise BackendUnavailableError(
                "the ONNX Runtime backend needs the onnxruntime package",
                hint="pip install onnxruntime (or onnxruntime-gpu on a CUDA machine)",
            ) from None
        path = Path(onnx_path)
        if device not in ("cpu", "cuda"):
            raise BackendUnavailableError(
                f"unknown device {device!r} for ONNX Runtime", hint="use cpu or cuda"
            )
        providers = [CPU_PROVIDER]
        if device == "cuda":
            if CUDA_PROVIDER not in onnxruntime.get_available_providers():
                raise BackendUnavailableError(
                    "this ONNX Runtime has no CUDA execution provider",
                    hint="pip install onnxruntime-gpu, or use device cpu",
                )
            providers = [CUDA_PROVIDER, CPU_PROVIDER]
        if not path.is_file():
            raise ArtefactError(
                f"ONNX file {path} does not exist",
                hint="export it with `station export --format onnx`",
            )
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = intra_op_threads or default_intra_op_threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only; ORT warns about harmless fallbacks
        try:
            self.session = onnxruntime.InferenceSession(str(path), options, providers=providers)
        except Exception as error:  # ORT raises its own pybind exception types
            raise ArtefactError(
                f"ONNX Runtime cannot load {path}: {str(error).splitlines()[0][:300]}",
                hint="the file is truncated or corrupt; export it again with `station export`",
            ) from None
        props = self.session.get_modelmeta().custom_metadata_map
        self.artefact = ArtefactMetadata.from_metadata_props(props, origin=path)
        self.artefact.check_model_hash(expected_model_hash, origin=path)
        self._check_interface(path)
        self.path = path
        self.info = BackendInfo(
            name="onnxruntime",
            device=device,
            precision=self.artefact.precision,
            model_hash=self.artefact.model_hash,
            classes=self.artefact.classes,
            tile_px=self.artefact.tile_px,
            in_channels=self.artefact.in_channels,
            max_batch=max_batch,
        )
        log.debug(
            "ONNX Runtime session for %s on %s, %d intra-op threads",
            path,
            self.session.get_providers(),
            options.intra_op_num_threads,
        )

    def _check_interface(self, path: Path) -> None:
        inputs = [value.name for value in self.session.get_inputs()]
        outputs = [value.name for value in self.session.get_outputs()]
        if inputs != [INPUT_NAME] or outputs != list(OUTPUT_NAMES):
            raise ArtefactError(
                f"{path} has inputs {inputs} and outputs {outputs}, expected "
                f"[{INPUT_NAME!r}] and {list(OUTPUT_NAMES)}",
                hint="export it again with `station export --format onnx`",
            )

    def _infer(self, tiles: np.ndarray) -> InferenceResult:
        tile_score, score_grid, anomaly_map, matched_class = self.session.run(
            list(OUTPUT_NAMES), {INPUT_NAME: tiles}
        )
        return InferenceResult(
            tile_score=np.asarray(tile_score, dtype=np.float32),
            score_grid=np.asarray(score_grid, dtype=np.float32),
            anomaly_map=np.asarray(anomaly_map, dtype=np.float32),
            matched_class=np.asarray(matched_class, dtype=np.int64),
        )

    def close(self) -> None:
        self.session = None  # type: ignore[assignment]

"""TensorRT backend: an engine file with the CenterMatch plugin, run through pycuda."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from engines.backends.base import BackendInfo, InferenceBackend, InferenceResult
from engines.errors import BackendUnavailableError
from engines.export.artefact import OUTPUT_NAMES


class TensorRTBackend(InferenceBackend):
    """Runs a ``station export --format tensorrt`` engine file.

    Batches larger than ``max_batch`` are split, and the pieces pipelined:
    the upload of one overlaps the engine's work on the previous one
    (:class:`~engines.tensorrt.runtime.TensorRTRuntime`).

    Args:
        engine_path: The engine file (header + plan).
        device_index: CUDA device.
        max_batch: At most the engine's profile maximum (the default).
        expected_model_hash: Refuse an engine built from another model.

    Raises:
        BackendUnavailableError: TensorRT, pycuda or a GPU is missing; max_batch too large.
        ArtefactError: missing, truncated or corrupt engine file.
        EngineMismatchError: engine built for another TensorRT, GPU or model.
    """

    def __init__(
        self,
        engine_path: str | Path,
        *,
        device_index: int = 0,
        max_batch: int | None = None,
        expected_model_hash: str | None = None,
    ) -> None:
        from engines.tensorrt.runtime import TensorRTRuntime

        self.runtime = TensorRTRuntime(
            engine_path, device_index=device_index, expected_model_hash=expected_model_hash
        )
        header = self.runtime.header
        if max_batch is not None and max_batch > header.max_batch:
            self.runtime.close()
            raise BackendUnavailableError(
                f"the engine {engine_path} takes batches up to {header.max_batch}, "
                f"{max_batch} was asked for",
                hint=f"use max_batch <= {header.max_batch}, or rebuild with a larger --max-batch",
            )
        artefact = header.artefact
        self.info = BackendInfo(
            name="tensorrt",
            device=f"cuda:{device_index}",
            precision=artefact.precision,
            model_hash=artefact.model_hash,
            classes=artefact.classes,
            tile_px=artefact.tile_px,
            in_channels=artefact.in_channels,
            max_batch=max_batch or header.max_batch,
        )

    def _infer(self, tiles: np.ndarray) -> InferenceResult:
        (outputs,) = list(self.runtime.run([tiles]))
        return _as_result(outputs)

    def _infer_batches(self, batches: Iterable[np.ndarray]) -> Iterator[InferenceResult]:
        for outputs in self.runtime.run(batches):
            yield _as_result(outputs)

    def close(self) -> None:
        self.runtime.close()


def _as_result(outputs: dict[str, np.ndarray]) -> InferenceResult:
    tile_score, score_grid, anomaly_map, matched_class = (outputs[n] for n in OUTPUT_NAMES)
    return InferenceResult(
        tile_score=tile_score.astype(np.float32, copy=False),
        score_grid=score_grid.astype(np.float32, copy=False),
        anomaly_map=anomaly_map.astype(np.float32, copy=False),
        matched_class=matched_class.astype(np.int64, copy=False),
    )

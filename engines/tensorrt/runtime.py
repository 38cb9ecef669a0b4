"""Run an engine file with TensorRT and pycuda: pinned buffers, async copies, two slots.

Each of two *slots* owns a pinned host input buffer, device buffers for the
input and the four outputs, and pinned host output buffers, all sized for the
engine's largest batch. Three CUDA streams keep the copy engines and the SMs
busy at once: an upload stream (host -> device), the compute stream (the
engine) and a download stream (device -> host), ordered by events. While the
engine runs batch k in one slot, batch k+1 is already being copied into the
other, and batch k-1's results are on their way back.

Every call makes this process's CUDA context current for its duration, so the
runtime may be used from any thread (one call at a time).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engines.errors import ArtefactError, EngineMismatchError
from engines.export.artefact import INPUT_NAME, OUTPUT_NAMES
from engines.tensorrt.environment import import_pycuda_driver, import_tensorrt
from engines.tensorrt.header import EngineHeader, check_engine_header, read_engine_file

log = logging.getLogger(__name__)

SLOTS = 2


@dataclass
class _Slot:
    """Buffers and events of one in-flight batch."""

    host_input: np.ndarray
    device_input: Any
    host_outputs: dict[str, np.ndarray]
    device_outputs: dict[str, Any]
    uploaded: Any
    computed: Any
    downloaded: Any
    count: int = 0
    allocations: list[Any] = field(default_factory=list)


class TensorRTRuntime:
    """A deserialized engine with its buffers, ready to run batches.

    Args:
        engine_path: An engine file written by :func:`engines.tensorrt.build.build_engine`.
        device_index: CUDA device to run on.
        expected_model_hash: Refuse an engine built from another model.

    Raises:
        BackendUnavailableError: TensorRT, pycuda or the GPU is missing.
        ArtefactError: the file is missing, not an engine file, truncated or corrupt.
        EngineMismatchError: built for another TensorRT version, GPU or model.
    """

    def __init__(
        self,
        engine_path: str | Path,
        *,
        device_index: int = 0,
        expected_model_hash: str | None = None,
    ) -> None:
        self.path = Path(engine_path)
        self.header: EngineHeader
        self.header, plan = read_engine_file(self.path)
        trt = import_tensorrt()
        cuda = import_pycuda_driver()
        self._cuda = cuda
        device = cuda.Device(device_index)
        major, minor = device.compute_capability()
        check_engine_header(
            self.header,
            origin=self.path,
            tensorrt_version=trt.__version__,
            gpu_name=device.name(),
            compute_capability=f"{major}.{minor}",
            expected_model_hash=expected_model_hash,
        )
        self._context = device.retain_primary_context()
        self._context.push()
        try:
            self._logger = trt.Logger(trt.Logger.WARNING)
            self._runtime = trt.Runtime(self._logger)
            self.engine = self._runtime.deserialize_cuda_engine(plan)
            if self.engine is None:
                raise EngineMismatchError(
                    f"TensorRT could not deserialize {self.path} although its header fits "
                    "this machine (see TensorRT's log above)",
                    hint="rebuild the engine here with `station export --format tensorrt`",
                )
            self._check_io(trt)
            self.execution = self.engine.create_execution_context()
            self.max_batch = self.header.max_batch
            self._tile_shape = (
                self.header.artefact.tile_px,
                self.header.artefact.tile_px,
                self.header.artefact.in_channels,
            )
            self.upload = cuda.Stream()
            self.compute = cuda.Stream()
            self.download = cuda.Stream()
            self._slots = [self._make_slot(trt) for _ in range(SLOTS)]
            self._next_slot = 0
        finally:
            cuda.Context.pop()

    def _check_io(self, trt: Any) -> None:
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        inputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        outputs = [n for n in names if n not in inputs]
        if inputs != [INPUT_NAME] or sorted(outputs) != sorted(OUTPUT_NAMES):
            raise ArtefactError(
                f"{self.path} has inputs {inputs} and outputs {outputs}; expected "
                f"[{INPUT_NAME!r}] and {list(OUTPUT_NAMES)}",
                hint="rebuild the engine from a `station export --format onnx` file",
            )
        self._output_dtypes = {
            name: np.dtype(trt.nptype(self.engine.get_tensor_dtype(name))) for name in OUTPUT_NAMES
        }

    def _make_slot(self, trt: Any) -> _Slot:
        cuda = self._cuda
        full = (self.max_batch, *self._tile_shape)
        self.execution.set_input_shape(INPUT_NAME, full)
        host_input = cuda.pagelocked_empty(full, np.uint8)
        device_input = cuda.mem_alloc(host_input.nbytes)
        host_outputs, device_outputs = {}, {}
        for name in OUTPUT_NAMES:
            shape = tuple(self.execution.get_tensor_shape(name))
            host_outputs[name] = cuda.pagelocked_empty(shape, self._output_dtypes[name])
            device_outputs[name] = cuda.mem_alloc(max(1, host_outputs[name].nbytes))
        return _Slot(
            host_input=host_input,
            device_input=device_input,
            host_outputs=host_outputs,
            device_outputs=device_outputs,
            uploaded=cuda.Event(),
            computed=cuda.Event(),
            downloaded=cuda.Event(),
            allocations=[device_input, *device_outputs.values()],
        )

    def run(self, batches: Iterable[np.ndarray]) -> Iterator[dict[str, np.ndarray]]:
        """Run batches in order, overlapping copies of one with the compute of another.

        Args:
            batches: uint8 [b, S, S, C] arrays with 1 <= b <= ``max_batch``.

        Yields:
            Per batch, the outputs by name (host copies, batch-sized).
        """
        pending: deque[_Slot] = deque()
        for batch in batches:
            if len(pending) == SLOTS:
                yield self._collect(pending.popleft())
            pending.append(self._launch(batch))
        while pending:
            yield self._collect(pending.popleft())

    def _launch(self, batch: np.ndarray) -> _Slot:
        count = len(batch)
        if not 1 <= count <= self.max_batch or batch.shape[1:] != self._tile_shape:
            raise ValueError(f"batch {batch.shape} does not fit the engine's profile")
        slot = self._slots[self._next_slot]
        self._next_slot = (self._next_slot + 1) % SLOTS
        cuda = self._cuda
        self._context.push()
        try:
            np.copyto(slot.host_input[:count], batch)
            cuda.memcpy_htod_async(slot.device_input, slot.host_input[:count], self.upload)
            slot.uploaded.record(self.upload)
            self.compute.wait_for_event(slot.uploaded)
            self.execution.set_input_shape(INPUT_NAME, (count, *self._tile_shape))
            self.execution.set_tensor_address(INPUT_NAME, int(slot.device_input))
            for name in OUTPUT_NAMES:
                self.execution.set_tensor_address(name, int(slot.device_outputs[name]))
            if not self.execution.execute_async_v3(self.compute.handle):
                raise RuntimeError(f"TensorRT failed to enqueue {self.path}")
            slot.computed.record(self.compute)
            self.download.wait_for_event(slot.computed)
            for name in OUTPUT_NAMES:
                cuda.memcpy_dtoh_async(
                    slot.host_outputs[name][:count], slot.device_outputs[name], self.download
                )
            slot.downloaded.record(self.download)
            slot.count = count
        finally:
            cuda.Context.pop()
        return slot

    def _collect(self, slot: _Slot) -> dict[str, np.ndarray]:
        self._context.push()
        try:
            slot.downloaded.synchronize()
        finally:
            self._cuda.Context.pop()
        return {name: slot.host_outputs[name][: slot.count].copy() for name in OUTPUT_NAMES}

    def close(self) -> None:
        """Free device memory and release the CUDA context (idempotent)."""
        if getattr(self, "_slots", None) is None:
            return
        self._context.push()
        try:
            for stream in (self.upload, self.compute, self.download):
                stream.synchronize()
            for slot in self._slots:
                for allocation in slot.allocations:
                    allocation.free()
            self._slots = None  # type: ignore[assignment]
            del self.execution, self.engine, self._runtime
        finally:
            self._cuda.Context.pop()
        self._context.detach()
        log.debug("released TensorRT engine %s", self.path)

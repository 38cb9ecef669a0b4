"""PyTorch backend: the trained model itself, on the CPU or on CUDA (fp16 + Triton kernel)."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch

from engines.backends.base import BackendInfo, InferenceBackend, InferenceResult
from training.cras.model import CrasModel
from training.errors import ConfigError


class HasModelHash(Protocol):
    """What the backend needs of the model's metadata (``ModelMetadata`` fits)."""

    @property
    def model_hash(self) -> str: ...


class KernelCenterMatch(torch.nn.Module):
    """Center matching through the fused Triton kernel (CUDA).

    Under fp16 autocast the adapted features are fp16 while the stored centers
    are fp32; the centers are cast down so that the kernel runs its fp16 path
    (promoting both to fp32 would take the far slower fp32 path).

    forward(features [B, N, D], centers [B|1, M, D]) -> (recomposed [B, N, D], index [B, N]).
    """

    def forward(
        self, features: torch.Tensor, centers: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        from engines.kernels import center_match

        if features.dtype == torch.float16 and centers.dtype != torch.float16:
            centers = centers.to(torch.float16)
        return center_match(features, centers, impl="auto")


class TorchBackend(InferenceBackend):
    """Runs a :class:`CrasModel` with PyTorch.

    The backend takes the model over: it moves it to ``device`` and, on CUDA,
    replaces its ``center_match`` step by the Triton kernel.

    Args:
        model: The loaded model (eval mode).
        metadata: Its metadata (``ModelMetadata``; only ``model_hash`` is used).
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        precision: ``"fp32"``, or ``"fp16"`` (CUDA only: autocast).
        max_batch: Largest batch sent to the model at once.
        use_kernel: On CUDA in fp16, use the Triton center-matching kernel (default
            True). In fp32 the model keeps its PyTorch step: measured on an H100
            (experiments/results/gpu/gpu_backends_h100_2026-11-22.txt) the exact-fp32
            kernel is 0.3-0.4x the speed of cuBLAS there, while in fp16 it is 3.8-5.3x
            faster and needs a quarter of the memory.
    """

    def __init__(
        self,
        model: CrasModel,
        metadata: HasModelHash,
        *,
        device: str = "cpu",
        precision: str = "fp32",
        max_batch: int = 32,
        use_kernel: bool = True,
    ) -> None:
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(
                "the PyTorch backend was asked for CUDA but no CUDA device is available",
                hint="use device cpu, or install the NVIDIA driver and a CUDA build of torch",
            )
        if precision not in ("fp32", "fp16"):
            raise ConfigError(f"unknown precision {precision!r}", hint="use fp32 or fp16")
        if precision == "fp16" and not device.startswith("cuda"):
            raise ConfigError("fp16 needs a CUDA device", hint="use fp32 on the CPU")
        if max_batch < 1:
            raise ConfigError(f"max_batch must be >= 1, got {max_batch}", hint="use e.g. 32")
        self.device = torch.device(device)
        self.dtype = torch.float16 if precision == "fp16" else torch.float32
        self.model = model.to(self.device).eval()
        self.uses_kernel = self.device.type == "cuda" and use_kernel and precision == "fp16"
        if self.uses_kernel:
            self.model.center_match = KernelCenterMatch()
        spec = model.spec
        self.info = BackendInfo(
            name="torch",
            device=str(self.device),
            precision=precision,
            model_hash=metadata.model_hash,
            classes=spec.classes,
            tile_px=spec.tile_px,
            in_channels=spec.in_channels,
            max_batch=max_batch,
        )

    @torch.inference_mode()
    def _infer(self, tiles: np.ndarray) -> InferenceResult:
        batch = torch.from_numpy(tiles).to(self.device, non_blocking=True)
        with torch.autocast(
            device_type=self.device.type, dtype=self.dtype, enabled=self.dtype == torch.float16
        ):
            out = self.model(batch)
        return InferenceResult(
            tile_score=out.tile_score.float().cpu().numpy(),
            score_grid=out.score_grid.float().cpu().numpy(),
            anomaly_map=out.anomaly_map.float().cpu().numpy(),
            matched_class=out.matched_class.cpu().numpy().astype(np.int64),
        )

    def close(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

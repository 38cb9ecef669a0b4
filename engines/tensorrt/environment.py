"""Is TensorRT usable here, and which GPU is this? (Imports TensorRT/pycuda lazily.)"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

from engines.errors import BackendUnavailableError

# tensorrt.plugin's ahead-of-time plugins (our CenterMatch plugin) arrived in 10.8.
MIN_TENSORRT = (10, 8)
INSTALL_HINT = "pip install 'cras-station[gpu]' (TensorRT >= 10.8 and pycuda) on the GPU machine"


@dataclass(frozen=True)
class GpuIdentity:
    """The CUDA device an engine is built for or run on."""

    name: str
    compute_capability: str  # "major.minor"

    @property
    def arch(self) -> int:
        """Compute capability as an int, e.g. 90 (what Triton compiles for)."""
        major, minor = self.compute_capability.split(".")
        return int(major) * 10 + int(minor)


def tensorrt_unavailable_reason(*, need_pycuda: bool = True) -> str | None:
    """Why the TensorRT backend cannot run here, or None when it can (cheap: no GPU calls)."""
    if importlib.util.find_spec("tensorrt") is None:
        return "the tensorrt package is not installed"
    if need_pycuda and importlib.util.find_spec("pycuda") is None:
        return "the pycuda package is not installed"
    try:
        import torch

        if not torch.cuda.is_available():
            return "no CUDA GPU is available"
    except ImportError:  # pragma: no cover - torch is a hard dependency
        pass
    return None


def import_tensorrt() -> Any:
    """``import tensorrt`` with a clear error (missing, or older than 10.8)."""
    try:
        import tensorrt
    except ImportError:
        raise BackendUnavailableError(
            "TensorRT's Python package is not installed", hint=INSTALL_HINT
        ) from None
    version = tuple(int(part) for part in tensorrt.__version__.split(".")[:2])
    if version < MIN_TENSORRT:
        raise BackendUnavailableError(
            f"TensorRT {tensorrt.__version__} is too old (the CenterMatch plugin needs >= 10.8)",
            hint=INSTALL_HINT,
        )
    return tensorrt


def import_pycuda_driver() -> Any:
    """``pycuda.driver``, initialised, with a clear error."""
    try:
        import pycuda.driver as cuda
    except ImportError:
        raise BackendUnavailableError(
            "the TensorRT runtime needs pycuda, which is not installed", hint=INSTALL_HINT
        ) from None
    try:
        cuda.init()
        count = cuda.Device.count()
    except cuda.Error as error:
        raise BackendUnavailableError(
            f"CUDA cannot be initialised: {error}",
            hint="check the NVIDIA driver (nvidia-smi) and CUDA_VISIBLE_DEVICES",
        ) from None
    if count == 0:
        raise BackendUnavailableError(
            "no CUDA GPU is visible", hint="check the NVIDIA driver and CUDA_VISIBLE_DEVICES"
        )
    return cuda


def gpu_identity(device_index: int = 0) -> GpuIdentity:
    """Name and compute capability of a CUDA device (through torch, else pycuda)."""
    try:
        import torch

        if torch.cuda.is_available():
            major, minor = torch.cuda.get_device_capability(device_index)
            return GpuIdentity(torch.cuda.get_device_name(device_index), f"{major}.{minor}")
    except ImportError:  # pragma: no cover
        pass
    cuda = import_pycuda_driver()
    device = cuda.Device(device_index)
    major, minor = device.compute_capability()
    return GpuIdentity(device.name(), f"{major}.{minor}")

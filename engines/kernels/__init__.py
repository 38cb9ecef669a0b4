"""Center-matching kernels: the fused Triton kernel, its PyTorch fallback and AOT compilation.

Public API::

    recomposed, index = center_match(features, centers, impl="auto")  # [B,N,D], [B,N] int64
    class_index = match_classes(features, class_centers)               # [B] int64

``engines.kernels.aot`` compiles the kernel to PTX for a chosen GPU without one
present (used by the TensorRT plugin). Triton is imported only when the kernel
is used, so this package works on machines without it.
"""

from engines.kernels.center_match import (
    CenterMatchImpl,
    center_match,
    match_classes,
    resolve_impl,
    triton_installed,
    triton_interpreter_enabled,
)
from engines.kernels.config import KernelConfig, default_config
from engines.kernels.errors import CenterMatchInputError, KernelUnavailableError

__all__ = [
    "CenterMatchImpl",
    "CenterMatchInputError",
    "KernelConfig",
    "KernelUnavailableError",
    "center_match",
    "default_config",
    "match_classes",
    "resolve_impl",
    "triton_installed",
    "triton_interpreter_enabled",
]

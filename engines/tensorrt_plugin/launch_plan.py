"""What the CenterMatch plugin's ahead-of-time implementation hands TensorRT.

Kept free of TensorRT so that it runs, and is tested, on machines without it:
shapes may be ints (tests, benchmarks) or TensorRT's symbolic shape
expressions (engine build), because the arithmetic uses only ``+``, ``*``
and ``//``, which both support.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from engines.kernels.aot import CompiledCenterMatch, compile_center_match
from engines.kernels.config import KernelConfig
from engines.kernels.errors import CenterMatchInputError
from engines.kernels.launch import kernel_scalar_args, launch_grid


@dataclass(frozen=True)
class CenterMatchLaunchPlan:
    """PTX plus launch parameters for one engine input configuration.

    Attributes:
        kernel_name: PTX entry name.
        ptx: PTX text for the target architecture.
        grid: ``(cdiv(N, block_n), B, 1)``, ints or shape expressions.
        block: ``(threads, 1, 1)``.
        shared_memory_bytes: Dynamic shared memory per block.
        scalar_args: ``(n_rows, n_centers, dim, centers_batch_stride)``, the
            int32 arguments between the input and the output pointers.
        shared_centers: True when the centers are one [1, M, D] for all items.
    """

    kernel_name: str
    ptx: str
    grid: tuple[Any, Any, Any]
    block: tuple[int, int, int]
    shared_memory_bytes: int
    scalar_args: tuple[Any, Any, Any, Any]
    shared_centers: bool


def int_constant(value: Any) -> int | None:
    """The value of a plain int; None for anything else."""
    return value if isinstance(value, int) else None


def plan_center_match_launch(
    *,
    features_shape: Sequence[Any],
    centers_shape: Sequence[Any],
    dtype: torch.dtype,
    arch: int,
    config: KernelConfig | None = None,
    constant: Callable[[Any], int | None] = int_constant,
) -> CenterMatchLaunchPlan:
    """Compile (cached) and plan the kernel launch for the plugin's input shapes.

    Args:
        features_shape: ``(B, N, D)``.
        centers_shape: ``(1 or B, M, D)``. Only a build-time constant 1 counts
            as shared centers; anything else must equal B when the engine runs.
        dtype: Element type of features and centers (float32 or float16).
        arch: Compute capability to compile for, e.g. 90.
        config: Kernel block sizes; the dtype's default if None.
        constant: Returns an extent's build-time value, or None if it is dynamic.

    Returns:
        The plan; grid and scalar arguments keep the type of the given extents.

    Raises:
        CenterMatchInputError: The shapes are not rank 3 or D differs (when known).
    """
    if len(features_shape) != 3 or len(centers_shape) != 3:
        raise CenterMatchInputError(
            f"CenterMatch needs rank-3 features and centers, got ranks {len(features_shape)} "
            f"and {len(centers_shape)}",
            hint="features [B,N,D] and centers [1|B,M,D]",
        )
    batch, n_rows, dim = features_shape
    centers_batch, n_centers, centers_dim = centers_shape
    dim_value, centers_dim_value = constant(dim), constant(centers_dim)
    if dim_value is not None and centers_dim_value is not None and dim_value != centers_dim_value:
        raise CenterMatchInputError(
            f"feature size {dim_value} differs from the centers' {centers_dim_value}",
            hint="the centers must come from the same backbone as the features",
        )
    shared = constant(centers_batch) == 1
    compiled = _compile_cached(dtype, arch, config, dim_value is not None and dim_value % 16 == 0)
    return CenterMatchLaunchPlan(
        kernel_name=compiled.kernel_name,
        ptx=compiled.ptx,
        grid=launch_grid(batch, n_rows, compiled.config.block_n),
        block=(compiled.threads_per_block, 1, 1),
        shared_memory_bytes=compiled.shared_memory_bytes,
        scalar_args=kernel_scalar_args(n_rows, n_centers, dim, shared_centers=shared),
        shared_centers=shared,
    )


@functools.lru_cache(maxsize=32)
def _compile_cached(
    dtype: torch.dtype, arch: int, config: KernelConfig | None, dim_multiple_of_16: bool
) -> CompiledCenterMatch:
    return compile_center_match(
        dtype=dtype, arch=arch, config=config, dim_multiple_of_16=dim_multiple_of_16
    )

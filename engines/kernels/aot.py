"""Ahead-of-time compilation of the center-matching kernel to PTX, without a GPU.

A TensorRT plugin with an ahead-of-time implementation hands TensorRT the
kernel's PTX, its entry name and its launch parameters; TensorRT embeds them in
the engine and launches the kernel itself, with no Python at run time. This
module produces those pieces with Triton's compiler for an explicit target
(e.g. sm_80, sm_90), so it runs and is tested on machines without a GPU.

The kernel's runtime parameters are, in order: ``features_ptr, centers_ptr``
(inputs), ``n_rows, n_centers, dim, centers_batch_stride`` (int32 scalars,
TensorRT's "extra args"), ``recomposed_ptr, index_ptr`` (outputs). Recent
Triton versions append up to two scratch pointers after these; the kernel
needs no scratch memory (checked here), so whatever is passed there is never
read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import torch

from engines.kernels.config import KernelConfig, default_config, dot_precision_for
from engines.kernels.errors import KernelUnavailableError
from engines.kernels.launch import kernel_scalar_args, launch_grid

# Triton's names for the element types the kernel accepts.
_TRITON_TYPES: dict[torch.dtype, str] = {
    torch.float32: "fp32",
    torch.float16: "fp16",
}
# Above this, a CUDA launch must first raise the kernel's dynamic shared-memory limit.
DEFAULT_SHARED_MEMORY_LIMIT_BYTES = 48 * 1024


@dataclass(frozen=True)
class CompiledCenterMatch:
    """The kernel compiled for one GPU architecture and element type.

    Attributes:
        kernel_name: PTX entry name to launch.
        ptx: PTX assembly text.
        arch: Compute capability as an int (80 = sm_80, 90 = sm_90).
        dtype: Element type of features, centers and recomposed centers.
        config: Block sizes it was compiled with (``block_n`` sets the grid).
        threads_per_block: CUDA block size (``num_warps * 32``).
        shared_memory_bytes: Dynamic shared memory per block.
    """

    kernel_name: str
    ptx: str
    arch: int
    dtype: torch.dtype
    config: KernelConfig
    threads_per_block: int
    shared_memory_bytes: int


@dataclass(frozen=True)
class LaunchParams:
    """How to launch a :class:`CompiledCenterMatch` for given tensor shapes.

    Attributes:
        grid: Blocks in x, y, z: ``(cdiv(N, block_n), B, 1)``.
        block: Threads in x, y, z.
        shared_memory_bytes: Dynamic shared memory per block.
        scalar_args: ``(n_rows, n_centers, dim, centers_batch_stride)``, passed
            between the input and the output pointers.
    """

    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    shared_memory_bytes: int
    scalar_args: tuple[int, int, int, int]


def compile_center_match(
    *,
    dtype: torch.dtype,
    arch: int,
    config: KernelConfig | None = None,
    dim_multiple_of_16: bool = False,
) -> CompiledCenterMatch:
    """Compile the kernel to PTX for ``sm_<arch>``; no GPU needed.

    Args:
        dtype: torch.float32 or torch.float16.
        arch: Compute capability, e.g. 80 or 90.
        config: Block sizes; :func:`default_config` for ``dtype`` if None.
        dim_multiple_of_16: Promise that D (hence every row start) is a multiple
            of 16 elements, which lets the compiler vectorise loads. Only set it
            when the engine's D is fixed and divisible by 16.

    Returns:
        The PTX and what is needed to launch it.

    Raises:
        KernelUnavailableError: Triton is missing or cannot target ``arch``.
    """
    try:
        import triton
        from triton.backends.compiler import GPUTarget
        from triton.compiler import ASTSource
    except ImportError as error:
        raise KernelUnavailableError(
            "compiling the center-matching kernel ahead of time needs the `triton` package",
            hint="pip install 'cras-station[gpu]' on the GPU machine",
        ) from error
    from engines.kernels.triton_center_match import (
        KERNEL_PARAMETERS,
        center_match_kernel,
        triton_runs_interpreted,
    )

    if triton_runs_interpreted():
        raise KernelUnavailableError(
            "Triton is in interpreter mode in this process (TRITON_INTERPRET=1 was set when it "
            "was imported), and then it cannot compile kernels",
            hint="compile in a process started without TRITON_INTERPRET",
        )

    if dtype not in _TRITON_TYPES:
        raise KernelUnavailableError(
            f"no ahead-of-time kernel for dtype {dtype}",
            hint=f"use one of {', '.join(str(d) for d in _TRITON_TYPES)}",
        )
    config = config or default_config(dtype)
    element = _TRITON_TYPES[dtype]
    kinds = {"ptr": f"*{element}", "ptr_i64": "*i64", "i32": "i32", "constexpr": "constexpr"}
    signature = {name: kinds[kind] for name, kind in KERNEL_PARAMETERS}
    constexprs: dict[str, Any] = {
        "block_n": config.block_n,
        "block_m": config.block_m,
        "block_d": config.block_d,
        "dot_precision": dot_precision_for(dtype, config),
    }
    # TensorRT aligns tensor buffers to 256 bytes (16 is all this asks); D is the caller's promise.
    aligned = [name for name, kind in KERNEL_PARAMETERS if kind.startswith("ptr")]
    if dim_multiple_of_16:
        aligned += ["dim", "centers_batch_stride"]
    arg_names = [name for name, _ in KERNEL_PARAMETERS]
    attrs = {(arg_names.index(name),): [["tt.divisibility", 16]] for name in aligned}
    source = ASTSource(
        fn=center_match_kernel(), signature=signature, constexprs=constexprs, attrs=attrs
    )
    try:
        compiled = triton.compile(
            source,
            target=GPUTarget("cuda", arch, 32),
            options={"num_warps": config.num_warps, "num_stages": config.num_stages},
        )
    except Exception as error:  # Triton raises many types; all mean "cannot build for this"
        raise KernelUnavailableError(
            f"Triton could not compile the center-matching kernel for sm_{arch} ({dtype}): {error}",
            hint="check that the installed Triton supports this GPU architecture",
        ) from error
    metadata = compiled.metadata
    for scratch in ("global_scratch_size", "profile_scratch_size"):
        if getattr(metadata, scratch, 0):
            raise KernelUnavailableError(
                f"the compiled kernel needs {scratch} = {getattr(metadata, scratch)}, which a "
                "TensorRT AOT plugin cannot provide",
                hint="use a Triton version or kernel config that needs no scratch memory",
            )
    return CompiledCenterMatch(
        kernel_name=metadata.name,
        ptx=compiled.asm["ptx"],
        arch=arch,
        dtype=dtype,
        config=config,
        threads_per_block=metadata.num_warps * 32,
        shared_memory_bytes=metadata.shared,
    )


def launch_params(
    compiled: CompiledCenterMatch,
    *,
    batch: int,
    n_rows: int,
    n_centers: int,
    dim: int,
    shared_centers: bool,
) -> LaunchParams:
    """Grid, block, shared memory and scalar arguments for concrete shapes.

    Args:
        compiled: Result of :func:`compile_center_match`.
        batch: B (features [B, N, D]).
        n_rows: N.
        n_centers: M (centers [B or 1, M, D]).
        dim: D.
        shared_centers: True when centers are [1, M, D] for the whole batch.
    """
    grid = launch_grid(batch, n_rows, compiled.config.block_n)
    return LaunchParams(
        grid=(int(grid[0]), int(grid[1]), int(grid[2])),
        block=(compiled.threads_per_block, 1, 1),
        shared_memory_bytes=compiled.shared_memory_bytes,
        scalar_args=kernel_scalar_args(n_rows, n_centers, dim, shared_centers=shared_centers),
    )


def ptx_entry_parameters(ptx: str, kernel_name: str) -> list[str]:
    """PTX types of the entry's parameters, in order (e.g. ``[".u64", ".u32", ...]``).

    Raises:
        ValueError: ``ptx`` has no ``.entry`` named ``kernel_name``.
    """
    match = re.search(rf"\.entry\s+{re.escape(kernel_name)}\s*\((.*?)\)", ptx, re.DOTALL)
    if match is None:
        raise ValueError(f"PTX has no .entry {kernel_name}")
    return re.findall(r"\.param\s+(\.[a-z0-9]+)", match.group(1))

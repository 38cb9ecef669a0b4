"""Fused local center matching as one Triton kernel.

One program handles one block of ``block_n`` feature rows of one batch item.
It walks over the M center rows in blocks of ``block_m``; for each block it
accumulates the dot products over D in chunks of ``block_d`` with ``tl.dot``
(fp32 accumulation) and, from the same loaded center tile, the squared norms
of those center rows. Dividing by the center norms gives a similarity whose
argmax over the centers equals the cosine similarity's (the feature row's own
norm is a positive factor per row and cannot change its argmax; a zero row
scores 0 everywhere and keeps index 0, as in the reference). A running
(max, argmax) per row is kept with a strict ``>`` across blocks and the lowest
index inside a block, so ties go to the lowest index. Finally the winning
center rows are copied to the output. The N x M similarity matrix never exists.

The kernel computes its own center norms instead of taking precomputed ones so
that it stays a single launch with two inputs, which is what a TensorRT plugin
with an ahead-of-time kernel can run (see :mod:`engines.kernels.aot`).

Its non-constexpr parameters follow TensorRT's AOT plugin calling convention:
input pointers, then integer scalars, then output pointers.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import torch

from engines.kernels.config import KernelConfig, dot_precision_for
from engines.kernels.errors import KernelUnavailableError
from engines.kernels.launch import kernel_scalar_args, launch_grid

try:
    import triton
    import triton.language as tl
except ImportError:
    raise KernelUnavailableError(
        "the Triton center-matching kernel needs the `triton` package, which is not installed",
        hint="pip install 'cras-station[kernels]' (the GPU machine: 'cras-station[gpu]'), "
        "or use the PyTorch implementation (impl='torch')",
    ) from None

# Parameters in launch order, with their Triton signature kinds ("ptr", "i32", "constexpr").
KERNEL_PARAMETERS: tuple[tuple[str, str], ...] = (
    ("features_ptr", "ptr"),
    ("centers_ptr", "ptr"),
    ("n_rows", "i32"),
    ("n_centers", "i32"),
    ("dim", "i32"),
    ("centers_batch_stride", "i32"),
    ("recomposed_ptr", "ptr"),
    ("index_ptr", "ptr_i64"),
    ("block_n", "constexpr"),
    ("block_m", "constexpr"),
    ("block_d", "constexpr"),
    ("dot_precision", "constexpr"),
)

# Larger than any center index: the neutral element of the lowest-index selection.
_NO_INDEX = tl.constexpr(2147483647)


def cras_center_match(
    features_ptr,
    centers_ptr,
    n_rows,
    n_centers,
    dim,
    centers_batch_stride,
    recomposed_ptr,
    index_ptr,
    block_n: tl.constexpr,
    block_m: tl.constexpr,
    block_d: tl.constexpr,
    dot_precision: tl.constexpr,
):
    """Triton kernel body (wrapped by :func:`center_match_kernel`).

    Memory layout (all contiguous, row-major):
        features_ptr: [B, n_rows, dim]; centers_ptr: [B or 1, n_centers, dim] with
        ``centers_batch_stride`` elements between batch items (0 = shared);
        recomposed_ptr: [B, n_rows, dim] in the centers' dtype; index_ptr: [B, n_rows] int64.
    Grid: (cdiv(n_rows, block_n), B).
    """
    row_block = tl.program_id(0)
    batch = tl.program_id(1).to(tl.int64)
    rows = row_block * block_n + tl.arange(0, block_n)
    row_ok = rows < n_rows
    feature_base = features_ptr + batch * n_rows * dim
    center_base = centers_ptr + batch * centers_batch_stride

    best_score = tl.full([block_n], float("-inf"), tl.float32)
    best_index = tl.zeros([block_n], tl.int32)
    for center_start in range(0, n_centers, block_m):
        cols = center_start + tl.arange(0, block_m)
        col_ok = cols < n_centers
        dots = tl.zeros([block_n, block_m], tl.float32)
        center_sq = tl.zeros([block_m], tl.float32)
        for d_start in range(0, dim, block_d):
            ds = d_start + tl.arange(0, block_d)
            d_ok = ds < dim
            feature_tile = tl.load(
                feature_base + rows[:, None] * dim + ds[None, :],
                mask=row_ok[:, None] & d_ok[None, :],
                other=0.0,
            )
            center_tile = tl.load(
                center_base + cols[:, None] * dim + ds[None, :],
                mask=col_ok[:, None] & d_ok[None, :],
                other=0.0,
            )
            dots = tl.dot(feature_tile, tl.trans(center_tile), dots, input_precision=dot_precision)
            center_f32 = center_tile.to(tl.float32)
            center_sq += tl.sum(center_f32 * center_f32, axis=1)
        # Same clamp as the reference's unit_vectors: a zero center row scores 0.
        inverse_norm = 1.0 / tl.maximum(tl.sqrt(center_sq), 1e-12)
        scores = dots * inverse_norm[None, :]
        scores = tl.where(col_ok[None, :], scores, float("-inf"))
        block_best = tl.max(scores, axis=1)
        candidates = tl.where(scores == block_best[:, None], cols[None, :], _NO_INDEX)
        block_index = tl.min(candidates, axis=1)
        improved = block_best > best_score
        best_score = tl.where(improved, block_best, best_score)
        best_index = tl.where(improved, block_index, best_index)

    out_rows = batch * n_rows + rows
    tl.store(index_ptr + out_rows, best_index.to(tl.int64), mask=row_ok)
    chosen = best_index.to(tl.int64) * dim
    for d_start in range(0, dim, block_d):
        ds = d_start + tl.arange(0, block_d)
        tile_ok = row_ok[:, None] & (ds < dim)[None, :]
        vectors = tl.load(center_base + chosen[:, None] + ds[None, :], mask=tile_ok, other=0.0)
        tl.store(recomposed_ptr + out_rows[:, None] * dim + ds[None, :], vectors, mask=tile_ok)


def triton_runs_interpreted() -> bool:
    """True when this process's Triton is in interpreter mode.

    Triton decides once, when ``triton.language`` is first imported with
    ``TRITON_INTERPRET=1`` in the environment: its own library functions are
    then interpreted, so in that process kernels run only in the interpreter
    and nothing can be compiled for a GPU (nor the other way round).
    """
    from triton.language import standard

    library_function = getattr(standard, "cdiv", None)
    if library_function is None:  # pragma: no cover - layout of a future Triton
        return os.environ.get("TRITON_INTERPRET", "").strip().lower() in {"1", "true", "on"}
    return not isinstance(library_function, triton.JITFunction)


@functools.cache
def center_match_kernel() -> Any:
    """The kernel in this process's Triton mode: compiled (GPU) or interpreted (CPU tensors)."""
    if triton_runs_interpreted():
        from triton.runtime.interpreter import InterpretedFunction

        return InterpretedFunction(cras_center_match)
    return triton.JITFunction(cras_center_match)


def run_center_match(
    features: torch.Tensor,
    centers: torch.Tensor,
    *,
    config: KernelConfig,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Launch the kernel on validated inputs.

    Args:
        features: [B, N, D], same dtype as ``centers``.
        centers: [B, M, D] or [1, M, D] (shared by the batch).
        config: Block sizes and launch options.

    Returns:
        ``(recomposed [B, N, D] in the centers' dtype, index [B, N] int64)``.
    """
    batch, n_rows, dim = features.shape
    n_centers = centers.shape[1]
    features = features.contiguous()
    shared_centers = centers.shape[0] == 1
    centers = centers.contiguous()
    recomposed = torch.empty((batch, n_rows, dim), dtype=centers.dtype, device=features.device)
    index = torch.empty((batch, n_rows), dtype=torch.int64, device=features.device)
    if batch == 0 or n_rows == 0:
        return recomposed, index
    grid = launch_grid(batch, n_rows, config.block_n)
    # The interpreter takes no launch options; the GPU launch needs them.
    launch_options = (
        {}
        if triton_runs_interpreted()
        else {"num_warps": config.num_warps, "num_stages": config.num_stages}
    )
    center_match_kernel()[grid](
        features,
        centers,
        *kernel_scalar_args(n_rows, n_centers, dim, shared_centers=shared_centers),
        recomposed,
        index,
        block_n=config.block_n,
        block_m=config.block_m,
        block_d=config.block_d,
        dot_precision=dot_precision_for(features.dtype, config),
        **launch_options,
    )
    return recomposed, index

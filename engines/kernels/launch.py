"""Launch geometry of the center-matching kernel, shared by every launcher.

Written with ``+``, ``*`` and ``//`` only, so the same functions work on ints
(PyTorch launch, tests) and on TensorRT's symbolic shape expressions (plugin).
"""

from __future__ import annotations

from typing import Any


def launch_grid(batch: Any, n_rows: Any, block_n: int) -> tuple[Any, Any, int]:
    """Grid ``(cdiv(n_rows, block_n), batch, 1)``: one program per row block and item."""
    return (n_rows + (block_n - 1)) // block_n, batch, 1


def kernel_scalar_args(
    n_rows: Any, n_centers: Any, dim: Any, *, shared_centers: bool
) -> tuple[Any, Any, Any, Any]:
    """``(n_rows, n_centers, dim, centers_batch_stride)``; the stride is 0 for shared centers."""
    return n_rows, n_centers, dim, (0 if shared_centers else n_centers * dim)

"""Median time (CUDA events) and peak extra memory of one call, shared by the GPU benchmarks."""

from __future__ import annotations

import statistics
from collections.abc import Callable

import torch


def cuda_median_ms_and_peak_mib(
    function: Callable[[], object], *, repeats: int, settle_calls: int = 0
) -> tuple[float, float]:  # pragma: no cover - needs a GPU
    """Median milliseconds per call over ``repeats`` timed calls, and the MiB one call adds.

    One untimed call compiles and warms caches; the next measures the allocator's
    peak above what was allocated before it; ``settle_calls`` more untimed calls
    run before the timed ones.
    """
    function()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    function()
    torch.cuda.synchronize()
    peak_mib = (torch.cuda.max_memory_allocated() - before) / 2**20
    for _ in range(settle_calls):
        function()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(repeats):
        start.record()
        function()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times), peak_mib

"""Center matching alone: naive (reference) vs chunked PyTorch vs the Triton kernel.

Prints one table row per (implementation, N, D): median time per call, the
peak memory the call adds on top of its inputs, and the speed-up over naive.

* CPU (naive, chunked): each measurement runs in a fresh child process. The
  child runs one small warm-up call (one-time BLAS buffers), makes the
  inputs, runs the implementation once, and reports its peak
  resident set size after the call (``ru_maxrss``, the OS's high-water mark of
  the process's RAM) minus its resident size just before; then it times more
  calls. Nothing is freed between making the inputs and the call, so no
  freed-but-kept memory can hide part of the peak.
  A fresh process per row keeps one row's peak from hiding the next one's.
* CUDA (naive, chunked, kernel; only where a GPU is present): peak from
  ``torch.cuda.max_memory_allocated`` minus the memory allocated before the call.

Usage (from the repository root)::

    python benchmarks/center_match.py --batch 4 --threads 1
    python benchmarks/center_match.py --sizes 1024x384 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.cuda_timing import cuda_median_ms_and_peak_mib  # noqa: E402
from training.cras.center_matching import (  # noqa: E402
    center_match_chunked,
    center_match_reference,
)

CPU_IMPLS: dict[str, Callable[[torch.Tensor, torch.Tensor], object]] = {
    "naive": center_match_reference,
    "chunked": center_match_chunked,
}


def make_inputs(
    batch: int, rows: int, dim: int, *, dtype: torch.dtype, device: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Features [B, N, D] and per-item centers [B, N, D] (M = N, as in CRAS)."""
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(batch, rows, dim, generator=generator).to(device=device, dtype=dtype)
    centers = torch.randn(batch, rows, dim, generator=generator).to(device=device, dtype=dtype)
    return features, centers


def measure_cpu_child(impl: str, batch: int, rows: int, dim: int, repeats: int) -> dict:
    """In the child: peak RSS growth of one call, then the median time of ``repeats`` calls."""
    function = CPU_IMPLS[impl]
    # One small call first, so one-time runtime buffers (BLAS, threads) are not counted.
    function(*make_inputs(1, 64, 64, dtype=torch.float32, device="cpu"))
    features, centers = make_inputs(batch, rows, dim, dtype=torch.float32, device="cpu")
    resident_before_kib = resident_kib()
    peak_before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    function(features, centers)
    peak_after_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(features, centers)
        times.append(time.perf_counter() - start)
    return {
        "time_ms": 1e3 * statistics.median(times),
        "peak_mib": (peak_after_kib - resident_before_kib) / 1024,
        # If the call never exceeded the process's earlier peak, this is only an upper bound.
        "exact": peak_after_kib > peak_before_kib,
    }


def resident_kib() -> int:
    """Current resident set size of this process (Linux /proc)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") // 1024


def measure_cpu(impl: str, batch: int, rows: int, dim: int, repeats: int, threads: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    command = [sys.executable, __file__, "--child", json.dumps([impl, batch, rows, dim, repeats])]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure_cuda(
    function: Callable[[], object], *, repeats: int
) -> dict:  # pragma: no cover - needs a GPU
    time_ms, peak_mib = cuda_median_ms_and_peak_mib(function, repeats=repeats)
    return {"time_ms": time_ms, "peak_mib": peak_mib}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=4, help="tiles per call (B)")
    parser.add_argument(
        "--sizes", default="1024x1536,1296x1536,1024x384,1296x384", help="comma list of NxD"
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per row")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (OMP_NUM_THREADS)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure_cpu_child(*json.loads(args.child))))
        return 0

    sizes = [tuple(int(v) for v in size.split("x")) for size in args.sizes.split(",")]
    print(
        f"center matching, B={args.batch}, M=N, fp32 inputs; torch {torch.__version__}, "
        f"CPU threads {args.threads}"
    )
    header = (
        f"{'device':6} {'impl':8} {'N':>5} {'D':>5} {'time ms':>10} {'peak MiB':>9} {'speed-up':>9}"
    )
    print(header)
    print("-" * len(header))
    for rows, dim in sizes:
        naive_ms = None
        for impl in CPU_IMPLS:
            result = measure_cpu(impl, args.batch, rows, dim, args.repeats, args.threads)
            naive_ms = naive_ms or result["time_ms"]
            ratio = naive_ms / result["time_ms"]
            bound = "" if result["exact"] else "<="
            print(
                f"{'cpu':6} {impl:8} {rows:5d} {dim:5d} {result['time_ms']:10.1f} "
                f"{bound:>2}{result['peak_mib']:7.1f} {ratio:8.2f}x"
            )
    if torch.cuda.is_available():  # pragma: no cover - needs a GPU
        from engines.kernels import center_match

        for rows, dim in sizes:
            features, centers = make_inputs(
                args.batch, rows, dim, dtype=torch.float32, device="cuda"
            )
            functions = {
                "naive": lambda f=features, c=centers: center_match_reference(f, c),
                "chunked": lambda f=features, c=centers: center_match_chunked(f, c),
                "kernel": lambda f=features, c=centers: center_match(f, c, impl="triton"),
            }
            naive_ms = None
            for impl, function in functions.items():
                result = measure_cuda(function, repeats=args.repeats)
                naive_ms = naive_ms or result["time_ms"]
                print(
                    f"{'cuda':6} {impl:8} {rows:5d} {dim:5d} {result['time_ms']:10.3f} "
                    f"{result['peak_mib']:9.1f} {naive_ms / result['time_ms']:8.2f}x"
                )
    else:
        print("(no CUDA device: the Triton kernel is timed by benchmarks/gpu_center_match.py)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

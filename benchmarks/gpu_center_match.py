"""Center matching on a CUDA GPU: kernel correctness, the AOT PTX, and timings, in one run.

Run from the repository root on a machine with an NVIDIA GPU, torch and triton::

    PYTHONPATH=. python benchmarks/gpu_center_match.py --batch 8

Needs only torch, triton and this repository's ``engines/kernels``,
``engines/tensorrt_plugin/launch_plan.py`` and ``training/cras/center_matching.py``
(no TensorRT). Sections, each printing PASS/FAIL lines or a table:

1. Correctness of the compiled Triton kernel against the PyTorch reference
   (fp32 and fp16, shared and per-item centers, odd sizes, planted ties).
2. The ahead-of-time PTX that the TensorRT plugin hands to TensorRT, loaded
   with the CUDA driver API and launched with the plugin's grid, block, shared
   memory and argument order (inputs, int32 scalars, outputs), like TensorRT
   does, and checked against the reference.
3. Time (median of CUDA-event-timed calls, L2 warm) and peak extra memory
   (``torch.cuda.max_memory_allocated`` minus what was allocated before the
   call, so outputs count) of naive (reference), chunked PyTorch and the kernel
   at N = 1024 and 1296 (M = N), D = 384 and 1536.
4. A small sweep of kernel block sizes, to choose the defaults.

``--device cpu`` runs sections 1, 3 and 4 on small sizes in Triton's
interpreter (start it with TRITON_INTERPRET=1); that only checks this script.
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import statistics
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.cuda_timing import cuda_median_ms_and_peak_mib  # noqa: E402
from engines.kernels import KernelConfig, center_match, default_config  # noqa: E402
from training.cras.center_matching import (  # noqa: E402
    center_match_chunked,
    center_match_reference,
    gather_centers,
)

NEAR_TIE = 1e-5
FAILURES: list[str] = []


def report(name: str, ok: bool, detail: str) -> None:
    print(f"  {'PASS' if ok else 'FAIL'}  {name}: {detail}")
    if not ok:
        FAILURES.append(name)


def make_inputs(
    seed: int, batch: int, rows: int, centers_rows: int, dim: int, *, shared: bool,
    dtype: torch.dtype, device: str,
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(batch, rows, dim, generator=generator)
    centers = torch.randn(1 if shared else batch, centers_rows, dim, generator=generator)
    return features.to(device, dtype), centers.to(device, dtype)


def check_against_reference(
    name: str, features: torch.Tensor, centers: torch.Tensor,
    recomposed: torch.Tensor, index: torch.Tensor,
) -> None:  # fmt: skip
    """The contract: a most similar center is chosen; exact index where no near-tie."""
    _, expected = center_match_reference(features, centers)
    unit_f = torch.nn.functional.normalize(features.float(), dim=-1)
    unit_c = torch.nn.functional.normalize(centers.float(), dim=-1)
    similarity = unit_f @ unit_c.expand(features.shape[0], -1, -1).transpose(1, 2)
    chosen = similarity.gather(2, index.unsqueeze(-1)).squeeze(-1)
    shortfall = (similarity.amax(dim=2) - chosen).max().item()
    clear = torch.ones_like(index, dtype=torch.bool)
    if similarity.shape[2] > 1:
        top_two = similarity.topk(2, dim=2).values
        clear = (top_two[..., 0] - top_two[..., 1]) >= NEAR_TIE
    clear_equal = torch.equal(index[clear], expected[clear])
    equal_fraction = (index == expected).float().mean().item()
    gathered = torch.equal(recomposed, gather_centers(centers, index))
    ok = (
        shortfall <= NEAR_TIE
        and clear_equal
        and gathered
        and index.dtype == torch.int64
        and recomposed.dtype == centers.dtype
    )
    report(
        name,
        ok,
        f"max similarity shortfall {shortfall:.2e}, index equal on clear rows {clear_equal}, "
        f"{100 * equal_fraction:.3f}% of all rows equal, recomposed = gathered {gathered}",
    )


def section_correctness(device: str, small: bool) -> None:
    print("\n1. Triton kernel vs reference")
    shapes = [(3, 1024, 1024, 384), (2, 1296, 1296, 1536), (3, 777, 500, 100), (1, 5, 3, 7)]
    if small:
        shapes = [(2, 70, 50, 40), (1, 5, 3, 7)]
    for dtype in (torch.float32, torch.float16):
        for batch, rows, centers_rows, dim in shapes:
            for shared in (True, False):
                features, centers = make_inputs(
                    1, batch, rows, centers_rows, dim, shared=shared, dtype=dtype, device=device
                )
                name = f"{str(dtype)[6:]} B={batch} N={rows} M={centers_rows} D={dim} " + (
                    "shared" if shared else "per-item"
                )
                try:
                    recomposed, index = center_match(features, centers, impl="triton")
                    check_against_reference(name, features, centers, recomposed, index)
                except Exception:
                    report(name, False, traceback.format_exc())
    # Planted exact ties (integer vectors): lowest index wins; zero rows get 0.
    generator = torch.Generator().manual_seed(7)
    centers = torch.randint(-3, 4, (2, 300, 64), generator=generator).float()
    centers[:, 150] = centers[:, 5]
    centers[:, 299] = centers[:, 5]
    centers[:, 12] = centers[:, 9]
    features = torch.randint(-3, 4, (2, 40, 64), generator=generator).float()
    features[:, 0] = 2.0 * centers[:, 299]
    features[:, 1] = 3.0 * centers[:, 12]
    features[:, 2] = 0.0
    for dtype in (torch.float32, torch.float16):
        try:
            _, index = center_match(
                features.to(device, dtype), centers.to(device, dtype), impl="triton"
            )
            got = index[:, :3].tolist()
            report(f"ties {str(dtype)[6:]}", got == [[5, 9, 0]] * 2, f"rows 0-2 -> {got}")
        except Exception:
            report(f"ties {str(dtype)[6:]}", False, traceback.format_exc())


class CudaDriver:
    """The few CUDA driver calls TensorRT makes for an AOT plugin kernel."""

    def __init__(self) -> None:
        self.lib = ctypes.CDLL("libcuda.so.1")

    def check(self, result: int, what: str) -> None:
        if result != 0:
            text = ctypes.c_char_p()
            self.lib.cuGetErrorString(result, ctypes.byref(text))
            raise RuntimeError(f"{what} failed: error {result} ({(text.value or b'').decode()})")

    def version(self) -> int:
        version = ctypes.c_int()
        self.check(self.lib.cuDriverGetVersion(ctypes.byref(version)), "cuDriverGetVersion")
        return version.value

    def load(self, ptx: str, name: str) -> ctypes.c_void_p:
        module, function = ctypes.c_void_p(), ctypes.c_void_p()
        log = ctypes.create_string_buffer(8192)
        options = (ctypes.c_int * 2)(5, 6)  # CU_JIT_ERROR_LOG_BUFFER(_SIZE_BYTES)
        values = (ctypes.c_void_p * 2)(ctypes.cast(log, ctypes.c_void_p), ctypes.c_void_p(8192))
        result = self.lib.cuModuleLoadDataEx(
            ctypes.byref(module), ptx.encode() + b"\0", 2, options, values
        )
        if result != 0:
            self.check(
                result, f"cuModuleLoadDataEx (JIT log: {log.value.decode(errors='replace')})"
            )
        self.check(
            self.lib.cuModuleGetFunction(ctypes.byref(function), module, name.encode()),
            "cuModuleGetFunction",
        )
        return function

    def launch(
        self, function: ctypes.c_void_p, grid: tuple, block: tuple, shared_bytes: int,
        arguments: list, stream: int,
    ) -> None:  # fmt: skip
        if shared_bytes > 48 * 1024:  # CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
            self.check(self.lib.cuFuncSetAttribute(function, 8, shared_bytes), "cuFuncSetAttribute")
        pointers = (ctypes.c_void_p * len(arguments))(
            *[ctypes.cast(ctypes.pointer(a), ctypes.c_void_p) for a in arguments]
        )
        self.check(
            self.lib.cuLaunchKernel(
                function, *[ctypes.c_uint(int(v)) for v in (*grid, *block)],
                ctypes.c_uint(shared_bytes), ctypes.c_void_p(stream), pointers, None,
            ),
            "cuLaunchKernel",
        )  # fmt: skip


def section_aot_ptx() -> None:
    print("\n2. AOT PTX (what the TensorRT plugin embeds) launched through the CUDA driver")
    from engines.kernels.aot import ptx_entry_parameters
    from engines.tensorrt_plugin.launch_plan import plan_center_match_launch

    driver = CudaDriver()
    major, minor = torch.cuda.get_device_capability()
    arch = 10 * major + minor
    print(f"  driver API version {driver.version()}, compiling for sm_{arch}")
    for dtype in (torch.float32, torch.float16):
        for batch, rows, centers_rows, dim, shared in [
            (4, 1296, 1296, 1536, True), (3, 1024, 1024, 384, False), (2, 777, 500, 100, True),
        ]:  # fmt: skip
            name = f"PTX {str(dtype)[6:]} B={batch} N={rows} M={centers_rows} D={dim}"
            try:
                features, centers = make_inputs(
                    2, batch, rows, centers_rows, dim, shared=shared, dtype=dtype, device="cuda"
                )
                plan = plan_center_match_launch(
                    features_shape=tuple(features.shape),
                    centers_shape=tuple(centers.shape),
                    dtype=dtype,
                    arch=arch,
                )
                version = next(
                    line for line in plan.ptx.splitlines() if line.startswith(".version")
                )
                function = driver.load(plan.ptx, plan.kernel_name)
                recomposed = torch.empty_like(features)
                index = torch.empty(batch, rows, dtype=torch.int64, device="cuda")
                arguments: list = [
                    ctypes.c_uint64(features.data_ptr()),
                    ctypes.c_uint64(centers.data_ptr()),
                    *[ctypes.c_int32(int(v)) for v in plan.scalar_args],
                    ctypes.c_uint64(recomposed.data_ptr()),
                    ctypes.c_uint64(index.data_ptr()),
                ]
                extra = len(ptx_entry_parameters(plan.ptx, plan.kernel_name)) - len(arguments)
                arguments += [ctypes.c_uint64(0) for _ in range(extra)]  # unused scratch
                stream = torch.cuda.current_stream().cuda_stream
                driver.launch(
                    function, plan.grid, plan.block, plan.shared_memory_bytes, arguments, stream
                )
                torch.cuda.synchronize()
                print(
                    f"  {name}: {version}, grid {plan.grid}, block {plan.block}, "
                    f"shared {plan.shared_memory_bytes} B, {extra} scratch params"
                )
                check_against_reference(name, features, centers, recomposed, index)
                launch = functools.partial(
                    driver.launch,
                    function,
                    plan.grid,
                    plan.block,
                    plan.shared_memory_bytes,
                    arguments,
                    stream,
                )
                print(f"        time {time_call(launch, 'cuda')[0]:.3f} ms")
            except Exception:
                report(name, False, traceback.format_exc())


def time_call(
    function: Callable[[], object], device: str, repeats: int = 20
) -> tuple[float, float]:
    """Median milliseconds per call and peak extra MiB (CUDA) of ``function``."""
    function()  # compile, warm caches
    if device != "cuda":
        import time

        times = []
        for _ in range(3):
            start = time.perf_counter()
            function()
            times.append(1e3 * (time.perf_counter() - start))
        return statistics.median(times), float("nan")
    return cuda_median_ms_and_peak_mib(function, repeats=repeats, settle_calls=3)


def section_timings(device: str, batch: int, small: bool) -> None:
    print(f"\n3. Time and peak extra memory, B={batch}, M=N (median of CUDA-event-timed calls)")
    sizes = [(1024, 384), (1296, 384), (1024, 1536), (1296, 1536)]
    if small:
        sizes = [(64, 48)]
    header = f"  {'dtype':7} {'impl':8} {'N':>5} {'D':>5} {'ms':>9} {'speed-up':>9} {'peak MiB':>9}"
    print(header)
    for dtype in (torch.float32, torch.float16):
        for rows, dim in sizes:
            features, centers = make_inputs(
                3, batch, rows, rows, dim, shared=False, dtype=dtype, device=device
            )
            calls = {
                "naive": lambda f=features, c=centers: center_match_reference(f, c),
                "chunked": lambda f=features, c=centers: center_match_chunked(f, c),
                "kernel": lambda f=features, c=centers: center_match(f, c, impl="triton"),
            }
            naive_ms = None
            for impl, call in calls.items():
                try:
                    ms, peak = time_call(call, device)
                except Exception:
                    report(f"time {impl}", False, traceback.format_exc())
                    continue
                naive_ms = naive_ms or ms
                print(
                    f"  {str(dtype)[6:]:7} {impl:8} {rows:5d} {dim:5d} {ms:9.3f} "
                    f"{naive_ms / ms:8.2f}x {peak:9.1f}"
                )


SWEEP = {
    torch.float16: [
        KernelConfig(64, 64, 64, 4, 3),
        KernelConfig(32, 64, 64, 4, 3),
        KernelConfig(64, 128, 64, 4, 3),
        KernelConfig(128, 64, 64, 8, 3),
        KernelConfig(64, 64, 128, 4, 2),
        KernelConfig(128, 128, 64, 8, 3),
    ],
    torch.float32: [
        KernelConfig(64, 64, 32, 4, 2),
        KernelConfig(32, 64, 32, 4, 2),
        KernelConfig(64, 32, 32, 4, 2),
        KernelConfig(128, 64, 32, 8, 2),
        KernelConfig(64, 64, 32, 4, 2, fp32_precision="tf32x3"),
        KernelConfig(64, 64, 32, 4, 2, fp32_precision="tf32"),
    ],
}


def section_sweep(device: str, batch: int, small: bool) -> None:
    print(f"\n4. Kernel block-size sweep, B={batch} (default marked *)")
    sizes = [(64, 48)] if small else [(1024, 384), (1296, 1536)]
    for dtype, configs in SWEEP.items():
        for rows, dim in sizes:
            features, centers = make_inputs(
                4, batch, rows, rows, dim, shared=False, dtype=dtype, device=device
            )
            _, reference_index = center_match_reference(features, centers)
            results = []
            for config in configs:
                try:
                    ms, _ = time_call(
                        functools.partial(
                            center_match, features, centers, impl="triton", config=config
                        ),
                        device,
                    )
                    _, index = center_match(features, centers, impl="triton", config=config)
                    agree = 100 * (index == reference_index).float().mean().item()
                    results.append((ms, config, agree))
                except Exception:
                    report(f"sweep {config}", False, traceback.format_exc())
            best = min(results, key=lambda r: r[0]) if results else None
            for ms, config, agree in results:
                mark = "*" if config == default_config(dtype) else " "
                precision = config.fp32_precision if dtype == torch.float32 else "fp16"
                fastest = "  <- fastest" if best is not None and config == best[1] else ""
                print(
                    f"  {mark} {str(dtype)[6:]:7} N={rows:4d} D={dim:4d} "
                    f"n{config.block_n} m{config.block_m} d{config.block_d} "
                    f"w{config.num_warps} s{config.num_stages} {precision:6} "
                    f"{ms:8.3f} ms, index = reference on {agree:.2f}%{fastest}"
                )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=8, help="tiles per call (B)")
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--skip", default="", help="comma list of sections to skip (1,2,3,4)")
    args = parser.parse_args()
    import triton

    small = args.device == "cpu"
    name = torch.cuda.get_device_name() if args.device == "cuda" else "cpu (interpreter)"
    print(
        f"torch {torch.__version__} (CUDA {torch.version.cuda}), triton {triton.__version__}, "
        f"python {sys.version.split()[0]}, device {name}"
    )
    skip = set(filter(None, args.skip.split(",")))
    if "1" not in skip:
        section_correctness(args.device, small)
    if "2" not in skip and args.device == "cuda":
        section_aot_ptx()
    if "3" not in skip:
        section_timings(args.device, 2 if small else args.batch, small)
    if "4" not in skip:
        section_sweep(args.device, 2 if small else args.batch, small)
    print(f"\n{len(FAILURES)} failed: {FAILURES}" if FAILURES else "\nall checks passed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    raise SystemExit(main())

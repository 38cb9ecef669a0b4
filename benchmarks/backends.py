"""Inference backends side by side: tiles/s, p50/p99 latency per batch size, peak memory.

For every backend that can run here (PyTorch CPU; ONNX Runtime CPU; OpenVINO
CPU in f32 and bf16 execution where openvino is installed; PyTorch
CUDA fp32/fp16, ONNX Runtime CUDA and TensorRT where a GPU is present), one
row per batch size: throughput (tiles per second of the median call), the
median and 99th-percentile latency of one ``infer`` call, and peak memory.
Then center matching alone (naive vs chunked vs kernel, N = 1024 and 1296,
D = 1536) through ``benchmarks/center_match.py``.

Each (backend, batch) row runs in a fresh child process, so one row's memory
and warm caches do not leak into the next. Peak memory: on the CPU the
child's high-water resident size minus its resident size just
before the backend was created (so weights, session and activations count;
``VmHWM``, because ``ru_maxrss`` survives ``execve`` and would report the parent);
on CUDA ``torch.cuda.max_memory_allocated`` (PyTorch) or the drop in free
device memory (ONNX Runtime, TensorRT).

Without ``--model`` an untrained model of the shipped class is made (real
EfficientNet-Lite0 weights; speed does not depend on the trained values).

Usage (from the repository root)::

    python benchmarks/backends.py --tile-px 256 --batches 1,8,16 --threads 2
    python benchmarks/backends.py --model MODEL_DIR --engine model_fp16.engine
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"{field} not in /proc/self/status")


def resident_mib() -> float:
    """Current resident set size."""
    return _status_mib("VmRSS")


def peak_mib() -> float:
    """High-water resident size of this process image.

    VmHWM, not ``ru_maxrss``: Linux carries ``ru_maxrss`` over ``execve``, so
    a child started by a large parent would report the parent's size.
    """
    return _status_mib("VmHWM")


def open_for_row(row: dict[str, Any]) -> Any:
    """Create the backend a row describes (in the child)."""
    kind, device, precision = row["kind"], row["device"], row["precision"]
    if kind == "torch":
        from engines.backends.torch_backend import TorchBackend
        from training.model_file import load_model

        model, metadata = load_model(row["model"])
        return TorchBackend(
            model, metadata, device=device, precision=precision, max_batch=row["batch"]
        )
    if kind == "onnxruntime":
        from engines.backends.onnxruntime_backend import OnnxRuntimeBackend

        return OnnxRuntimeBackend(
            row["onnx"], device=device, max_batch=row["batch"], intra_op_threads=row["threads"]
        )
    if kind == "openvino":
        from engines.backends.openvino_backend import OpenVinoBackend

        return OpenVinoBackend(
            row["onnx"],
            max_batch=row["batch"],
            threads=row["threads"],
            inference_precision="bf16" if precision == "bf16" else "f32",
        )
    from engines.backends.tensorrt_backend import TensorRTBackend

    return TensorRTBackend(row["engine"], max_batch=row["batch"])


def measure_child(row: dict[str, Any]) -> dict[str, Any]:
    """In the child: time ``repeats`` calls of one batch size and read the peak memory."""
    import torch

    torch.set_num_threads(row["threads"])
    on_cuda = row["device"].startswith("cuda")
    if on_cuda:
        import torch.cuda

        free_before = torch.cuda.mem_get_info()[0]
        torch.cuda.reset_peak_memory_stats()
    resident_before = resident_mib()
    backend = open_for_row(row)
    rng = np.random.default_rng(0)
    spec = backend.info
    tiles = rng.integers(
        0, 256, (row["batch"], spec.tile_px, spec.tile_px, spec.in_channels), dtype=np.uint8
    )
    for _ in range(row["warmup"]):
        backend.infer(tiles)
    latencies = []
    for _ in range(row["repeats"]):
        start = time.perf_counter()
        backend.infer(tiles)  # returns host arrays: the call includes every copy
        latencies.append(time.perf_counter() - start)
    if on_cuda:
        if row["kind"] == "torch":
            memory = torch.cuda.max_memory_allocated() / 2**20
        else:
            memory = (free_before - torch.cuda.mem_get_info()[0]) / 2**20
    else:
        memory = peak_mib() - resident_before
    backend.close()
    p50 = statistics.median(latencies)
    return {
        "tiles_per_s": row["batch"] / p50,
        "p50_ms": 1e3 * p50,
        "p99_ms": 1e3 * float(np.percentile(latencies, 99)),
        "peak_mib": memory,
        "device_name": torch.cuda.get_device_name() if on_cuda else platform.processor(),
    }


def run_child(row: dict[str, Any]) -> dict[str, Any] | str:
    env = dict(os.environ, OMP_NUM_THREADS=str(row["threads"]), MKL_NUM_THREADS=str(row["threads"]))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(row)],
        env=env,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    if result.returncode != 0:
        return (result.stderr.strip().splitlines() or ["failed"])[-1][:120]
    return json.loads(result.stdout.strip().splitlines()[-1])


def available_rows(args: argparse.Namespace, model_dir: Path, onnx_path: Path | None) -> list:
    """(kind, device, precision, extra) for every backend that can run here."""
    import torch

    from engines.backends.onnxruntime_backend import CUDA_PROVIDER, onnxruntime_providers

    rows = [("torch", "cpu", "fp32", {})]
    providers = onnxruntime_providers()
    if onnx_path is not None:
        rows.append(("onnxruntime", "cpu", "fp32", {"onnx": str(onnx_path)}))
        from engines.backends.openvino_backend import openvino_unavailable_reason

        if openvino_unavailable_reason() is None:  # bf16: the execution precision asked for
            rows += [("openvino", "cpu", p, {"onnx": str(onnx_path)}) for p in ("fp32", "bf16")]
    if torch.cuda.is_available():
        rows += [("torch", "cuda", "fp32", {}), ("torch", "cuda", "fp16", {})]
        if onnx_path is not None and CUDA_PROVIDER in providers:
            rows.append(("onnxruntime", "cuda", "fp32", {"onnx": str(onnx_path)}))
    if args.engine:
        from engines.tensorrt.header import read_engine_header

        precision = read_engine_header(args.engine).artefact.precision
        rows.append(("tensorrt", "cuda", precision, {"engine": args.engine}))
    wanted = set(args.backends.split(",")) if args.backends else None
    return [row for row in rows if wanted is None or row[0] in wanted]


def prepare_model(args: argparse.Namespace, scratch: Path) -> tuple[Path, Path | None]:
    """The model folder (given or made) and an fp32 ONNX export of it (given or made)."""
    from engines.backends.onnxruntime_backend import onnxruntime_providers

    model_dir = Path(args.model) if args.model else None
    if model_dir is None:
        from training.testing import make_model_dir

        model_dir = make_model_dir(
            scratch / "model", tile_px=args.tile_px, classes=("a", "b"), backbone=args.backbone
        )
        print(f"(untrained {args.tile_px}-px {args.backbone} model made in {model_dir})")
    onnx_path = Path(args.onnx) if args.onnx else None
    if onnx_path is None and onnxruntime_providers():
        from engines.export.onnx_export import export_onnx
        from training.model_file import load_model

        model, metadata = load_model(model_dir)
        onnx_path = scratch / "model_fp32.onnx"
        export_onnx(model, metadata, onnx_path, precision="fp32")
    return model_dir, onnx_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model folder (default: an untrained one is made)")
    parser.add_argument("--onnx", help="fp32 ONNX export of --model (default: exported here)")
    parser.add_argument("--engine", help="TensorRT engine of --model to include")
    parser.add_argument("--tile-px", type=int, default=256, help="tile size of a made model")
    parser.add_argument("--backbone", default="efficientnet_lite0", help="backbone of a made model")
    parser.add_argument("--batches", default="1,8,16", help="comma list of batch sizes")
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per row")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls first")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="CPU threads")
    parser.add_argument(
        "--backends", help="comma list to restrict (torch,onnxruntime,openvino,tensorrt)"
    )
    parser.add_argument("--skip-center-match", action="store_true", help="skip section 2")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure_child(json.loads(args.child))))
        return 0

    import torch

    batches = [int(b) for b in args.batches.split(",")]
    print(
        f"backends: torch {torch.__version__}, python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {args.threads} threads, {args.repeats} timed calls per row"
    )
    with tempfile.TemporaryDirectory() as scratch:
        model_dir, onnx_path = prepare_model(args, Path(scratch))
        header = (
            f"{'backend':12} {'device':6} {'prec':5} {'batch':>5} {'tiles/s':>9} "
            f"{'p50 ms':>9} {'p99 ms':>9} {'peak MiB':>9}"
        )
        print(header)
        print("-" * len(header))
        for kind, device, precision, extra in available_rows(args, model_dir, onnx_path):
            for batch in batches:
                row = {
                    "kind": kind,
                    "device": device,
                    "precision": precision,
                    "batch": batch,
                    "model": str(model_dir),
                    "threads": args.threads,
                    "repeats": args.repeats,
                    "warmup": args.warmup,
                    **extra,
                }
                result = run_child(row)
                prefix = f"{kind:12} {device:6} {precision:5} {batch:5d}"
                if isinstance(result, str):
                    print(f"{prefix}  failed: {result}")
                    continue
                print(
                    f"{prefix} {result['tiles_per_s']:9.1f} {result['p50_ms']:9.1f} "
                    f"{result['p99_ms']:9.1f} {result['peak_mib']:9.0f}"
                )
    if not args.skip_center_match:
        print("\ncenter matching alone (benchmarks/center_match.py):")
        subprocess.run(
            [
                sys.executable,
                str(REPO_ROOT / "benchmarks" / "center_match.py"),
                "--sizes",
                "1024x1536,1296x1536",
                "--batch",
                "4",
                "--threads",
                str(args.threads),
                "--repeats",
                "5",
            ],
            check=False,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

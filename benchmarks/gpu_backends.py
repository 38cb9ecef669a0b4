"""Full-model throughput of the PyTorch-CUDA backend, and center matching inside the model.

One command on a machine with an NVIDIA GPU, torch, timm and triton (no
TensorRT, no pydantic, no model file, no weights download needed)::

    PYTHONPATH=. python benchmarks/gpu_backends.py

For EfficientNet-Lite0 (D = 384) and WideResNet-50-2 (D = 1536), 256 x 256
grey tiles (grid 32 x 32, N = 1024), four classes:

1. The PyTorch backend (``engines.backends.torch_backend.TorchBackend``) on
   CUDA in fp16 (autocast + the Triton center-matching kernel) and fp32: tiles/s
   and p50/p99 latency of one ``infer`` call (uint8 host tiles in, host
   arrays of every output back: copies included) for batch 1..64, and peak
   GPU memory (``torch.cuda.max_memory_allocated``).
2. Center matching inside the model: the same backend with the model's own
   chunked PyTorch step, with the naive reference (full similarity matrix),
   and with the kernel, at batch 32: tiles/s, the time of the center-matching
   call alone at the model's shapes (CUDA events), and how often the kernel's
   index equals the naive one.

The backbones are built with RANDOM weights: the offline EfficientNet-Lite0
weights package and a WideResNet-50-2 weights file are not on this machine,
and throughput does not depend on weight values. The ImageNet load check of
``training.backbones`` (classify a cat) is deliberately bypassed here, and
only here: these models must never score fabric. Every output line that
carries a number says so.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.cuda_timing import cuda_median_ms_and_peak_mib  # noqa: E402

RANDOM_NOTE = "random-init weights (throughput only)"


class _RandomInitMetadata:
    """Stands in for ``ModelMetadata`` (pydantic is not needed for a throughput run)."""

    model_hash = "random-init-benchmark-model"


def build_random_model(backbone_name: str, *, tile_px: int, classes: int, device: str):
    """A CrasModel of the shipped class on a randomly initialised backbone (no load check)."""
    import timm

    from training.backbones import FeatureBackbone, backbone_spec
    from training.cras.model import CrasModel, ModelSpec

    backbone_info = backbone_spec(backbone_name)
    classifier = timm.create_model(backbone_info.timm_name, pretrained=False).eval()
    backbone = FeatureBackbone(classifier, backbone_info)
    dim = backbone_info.default_dim
    spec = ModelSpec(
        backbone=backbone_name,
        classes=tuple(f"class{k}" for k in range(classes)),
        tile_px=tile_px,
        pre_dim=dim,
        dim=dim,
    )
    torch.manual_seed(0)
    model = CrasModel(spec, backbone).eval()
    with torch.no_grad():
        model.centers.normal_()
    return model.to(device)


def time_calls(function, *, warmup: int, repeats: int) -> list[float]:
    for _ in range(warmup):
        function()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    latencies = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()  # returns host arrays: implicitly synchronised
        latencies.append(time.perf_counter() - start)
    return latencies


def backend_rows(args: argparse.Namespace, backbone_name: str) -> None:
    from engines.backends.torch_backend import TorchBackend

    rng = np.random.default_rng(0)
    for precision in args.precisions.split(","):
        model = build_random_model(
            backbone_name, tile_px=args.tile_px, classes=args.classes, device=args.device
        )
        backend = TorchBackend(
            model,
            _RandomInitMetadata(),
            device=args.device,
            precision=precision,
            max_batch=max(args.batches),
        )
        for batch in args.batches:
            tiles = rng.integers(0, 256, (batch, args.tile_px, args.tile_px, 1), dtype=np.uint8)
            if args.device == "cuda":
                torch.cuda.reset_peak_memory_stats()
            latencies = time_calls(
                lambda b=backend, t=tiles: b.infer(t), warmup=args.warmup, repeats=args.repeats
            )
            p50 = statistics.median(latencies)
            peak = torch.cuda.max_memory_allocated() / 2**20 if args.device == "cuda" else 0.0
            print(
                f"  {backbone_name:18} {precision:5} {batch:5d} {batch / p50:9.1f} "
                f"{1e3 * p50:8.2f} {1e3 * float(np.percentile(latencies, 99)):8.2f} "
                f"{peak:9.0f}   {RANDOM_NOTE}",
                flush=True,
            )
        backend.close()


class _Naive(torch.nn.Module):
    def forward(self, features, centers):
        from training.cras.center_matching import center_match_reference

        return center_match_reference(features, centers)


def center_match_rows(args: argparse.Namespace, backbone_name: str) -> None:
    """Full model with chunked / naive / kernel center matching, and the step alone."""
    from engines.backends.torch_backend import KernelCenterMatch, TorchBackend
    from engines.kernels import center_match
    from training.cras.center_matching import center_match_chunked, center_match_reference

    batch = args.match_batch
    rng = np.random.default_rng(1)
    tiles = rng.integers(0, 256, (batch, args.tile_px, args.tile_px, 1), dtype=np.uint8)
    for precision in args.precisions.split(","):
        model = build_random_model(
            backbone_name, tile_px=args.tile_px, classes=args.classes, device=args.device
        )
        spec = model.spec
        backend = TorchBackend(
            model, _RandomInitMetadata(), device=args.device, precision=precision,
            max_batch=batch, use_kernel=False,
        )  # fmt: skip
        results = {}
        for name, step in (
            ("chunked", model.center_match),
            ("naive", _Naive()),
            ("kernel", KernelCenterMatch()),
        ):
            backend.model.center_match = step
            latencies = time_calls(
                lambda b=backend: b.infer(tiles), warmup=args.warmup, repeats=args.repeats
            )
            results[name] = backend.infer(tiles)
            p50 = statistics.median(latencies)
            print(
                f"  {backbone_name:18} {precision:5} {name:8} full model {batch / p50:9.1f} "
                f"tiles/s  p50 {1e3 * p50:8.2f} ms   {RANDOM_NOTE}",
                flush=True,
            )
        agreement = np.mean(results["kernel"].matched_class == results["naive"].matched_class)
        score_diff = np.abs(results["kernel"].tile_score - results["naive"].tile_score).max()
        print(
            f"  {backbone_name:18} {precision:5} kernel vs naive model outputs: "
            f"max |tile score diff| {score_diff:.2e}, matched class equal {100 * agreement:.1f}%"
        )
        # The step alone, at the model's shapes, with CUDA events.
        dtype = torch.float16 if precision == "fp16" else torch.float32
        generator = torch.Generator(device="cpu").manual_seed(2)
        features = torch.randn(batch, spec.positions, spec.dim, generator=generator)
        centers = torch.randn(batch, spec.positions, spec.dim, generator=generator)
        features, centers = features.to(args.device, dtype), centers.to(args.device, dtype)
        steps = {
            "naive": lambda f=features, c=centers: center_match_reference(f, c),
            "chunked": lambda f=features, c=centers: center_match_chunked(f, c),
            "kernel": lambda f=features, c=centers: center_match(f, c, impl="auto"),
        }
        _, naive_index = center_match_reference(features, centers)
        naive_ms = None
        for name, step in steps.items():
            milliseconds, peak = step_time(step, repeats=args.repeats)
            naive_ms = naive_ms or milliseconds
            _, index = step()
            same = (index == naive_index).float().mean().item()
            print(
                f"  {backbone_name:18} {precision:5} {name:8} step alone B={batch} "
                f"N={spec.positions} D={spec.dim}: {milliseconds:8.3f} ms "
                f"({naive_ms / milliseconds:5.2f}x naive), peak +{peak:7.1f} MiB, "
                f"index = naive on {100 * same:.3f}%",
                flush=True,
            )
        backend.close()


def step_time(function, *, repeats: int) -> tuple[float, float]:
    """Median ms of ``function`` (CUDA events on a GPU) and the peak MiB one call adds."""
    if not torch.cuda.is_available():  # CPU smoke test: wall clock, no memory figure
        function()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            function()
            times.append(1e3 * (time.perf_counter() - start))
        return statistics.median(times), 0.0
    return cuda_median_ms_and_peak_mib(function, repeats=repeats)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backbones", default="efficientnet_lite0,wide_resnet50_2")
    parser.add_argument("--precisions", default="fp16,fp32")
    parser.add_argument("--batches", default="1,2,4,8,16,32,64")
    parser.add_argument("--tile-px", type=int, default=256)
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--match-batch", type=int, default=32, help="batch of section 2")
    parser.add_argument("--device", default="cuda", help="cuda (cpu: a smoke test)")
    args = parser.parse_args(argv)
    args.batches = [int(b) for b in args.batches.split(",")]
    if args.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: run this on the GPU machine (or --device cpu --precisions fp32)")
        return 2
    if args.device == "cuda":
        torch.backends.cudnn.benchmark = True
        import triton

        gpu = f"{torch.cuda.get_device_name()}, triton {triton.__version__}"
    else:
        gpu = "CPU smoke test"
    print(
        f"PyTorch backend, {args.tile_px}x{args.tile_px} grey tiles, {args.classes} classes; "
        f"torch {torch.__version__}, {gpu}"
    )
    print(f"NOTE: every model here has {RANDOM_NOTE}; no ImageNet load check was run.\n")
    print("1. TorchBackend.infer (host uint8 in, host outputs back)")
    print(
        f"  {'backbone':18} {'prec':5} {'batch':>5} {'tiles/s':>9} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'peak MiB':>9}"
    )
    start = time.perf_counter()
    for backbone_name in args.backbones.split(","):
        backend_rows(args, backbone_name)
    print("\n2. Center matching inside the model (chunked = the model's own PyTorch step)")
    if args.device != "cuda":
        print("  (CPU smoke test: 'kernel' falls back to the chunked PyTorch step here)")
    for backbone_name in args.backbones.split(","):
        center_match_rows(args, backbone_name)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

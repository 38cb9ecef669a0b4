"""The CenterMatch plugin's ahead-of-time code: PTX and launch parameters, no GPU needed.

Triton compiles the kernel for explicit targets (sm_80, sm_90) in a child
process started without ``TRITON_INTERPRET`` (an interpreting Triton cannot
compile; see test_center_match_triton.py). The child only compiles and
reports; the checks happen here.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from engines.kernels import CenterMatchInputError
from engines.kernels.aot import DEFAULT_SHARED_MEMORY_LIMIT_BYTES
from engines.tensorrt_plugin import plan_center_match_launch
from tests.unit.engines.test_center_match_triton import run_child

# (name, arch, dtype, features shape, centers shape, block_n or None for the default)
PLANS: list[tuple[str, int, str, tuple[int, int, int], tuple[int, int, int], int | None]] = [
    ("wrn50_sm80_fp16_shared", 80, "float16", (4, 1296, 1536), (1, 1296, 1536), None),
    ("lite0_sm90_fp16_per_item", 90, "float16", (2, 1024, 384), (2, 1024, 384), None),
    ("odd_sm80_fp32", 80, "float32", (3, 1000, 100), (1, 700, 100), None),
    ("odd_sm90_fp32_batch_1", 90, "float32", (1, 37, 45), (1, 29, 45), None),
    ("sm90_fp16_block_n_32", 90, "float16", (5, 1296, 1536), (5, 1296, 1536), 32),
]

CHILD = """
import json, sys
import torch
import triton
from engines.kernels import KernelConfig, KernelUnavailableError, center_match
from engines.kernels.aot import ptx_entry_parameters
from engines.tensorrt_plugin import plan_center_match_launch

results = {"triton_version": triton.__version__}
for name, arch, dtype, features_shape, centers_shape, block_n in json.loads(sys.argv[1]):
    config = None if block_n is None else KernelConfig(block_n=block_n)
    plan = plan_center_match_launch(
        features_shape=tuple(features_shape), centers_shape=tuple(centers_shape),
        dtype=getattr(torch, dtype), arch=arch, config=config,
    )
    results[name] = {
        "kernel_name": plan.kernel_name, "ptx": plan.ptx, "grid": list(plan.grid),
        "block": list(plan.block), "shared_memory_bytes": plan.shared_memory_bytes,
        "scalar_args": list(plan.scalar_args), "shared_centers": plan.shared_centers,
        "parameters": ptx_entry_parameters(plan.ptx, plan.kernel_name),
    }
try:
    center_match(torch.ones(1, 4, 16), torch.ones(1, 4, 16), impl="triton")
    results["cpu_triton_error"] = ""
except KernelUnavailableError as error:
    results["cpu_triton_error"] = str(error)
try:
    plan_center_match_launch(
        features_shape=(1, 4, 16), centers_shape=(1, 4, 16), dtype=torch.bfloat16, arch=90
    )
    results["bf16_error"] = ""
except KernelUnavailableError as error:
    results["bf16_error"] = str(error)
with open(sys.argv[2], "w") as handle:
    json.dump(results, handle)
"""

# Kernel parameters in TensorRT's AOT order: 2 input pointers, 4 int32 scalars, 2 output pointers.
EXPECTED_PARAMETERS = [".u64", ".u64", ".u32", ".u32", ".u32", ".u32", ".u64", ".u64"]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out: Path = tmp_path_factory.mktemp("center_match_aot") / "plans.json"
    run_child(CHILD, json.dumps(PLANS), str(out), interpret=False)
    return json.loads(out.read_text())


@pytest.mark.parametrize("plan", PLANS, ids=[plan[0] for plan in PLANS])
def test_ptx_has_the_kernel_entry_for_the_target(compiled: dict[str, Any], plan: tuple) -> None:
    name, arch, *_ = plan
    result = compiled[name]
    assert result["kernel_name"] == "cras_center_match"
    assert ".entry cras_center_match(" in result["ptx"]
    target = next(line for line in result["ptx"].splitlines() if line.startswith(".target"))
    assert target.split()[1].startswith(f"sm_{arch}")
    parameters = result["parameters"]
    assert parameters[:8] == EXPECTED_PARAMETERS
    # Triton may append up to two scratch pointers; the kernel needs no scratch memory.
    assert parameters[8:] == [".u64"] * (len(parameters) - 8)
    assert len(parameters) <= 10


@pytest.mark.parametrize("plan", PLANS, ids=[plan[0] for plan in PLANS])
def test_launch_parameters_match_the_tensor_shapes(compiled: dict[str, Any], plan: tuple) -> None:
    name, _, _, (batch, rows, dim), (centers_batch, centers_rows, _), block_n = plan
    result = compiled[name]
    block_rows = block_n or 64
    assert result["grid"] == [math.ceil(rows / block_rows), batch, 1]
    assert result["block"] == [128, 1, 1]  # 4 warps
    assert 0 < result["shared_memory_bytes"] <= DEFAULT_SHARED_MEMORY_LIMIT_BYTES
    shared = centers_batch == 1  # a constant 1 is broadcast over any batch
    assert result["shared_centers"] is shared
    stride = 0 if shared else centers_rows * dim
    assert result["scalar_args"] == [rows, centers_rows, dim, stride]


def test_fp16_uses_tensor_cores_and_fp32_keeps_full_precision(compiled: dict[str, Any]) -> None:
    assert "mma.sync" in compiled["wrn50_sm80_fp16_shared"]["ptx"]
    assert "wgmma" in compiled["lite0_sm90_fp16_per_item"]["ptx"]
    for name in ("odd_sm80_fp32", "odd_sm90_fp32_batch_1"):
        ptx = compiled[name]["ptx"]
        assert "mma" not in ptx  # "ieee" dot: fp32 FMAs, same products as the reference
        assert "fma.rn.f32" in ptx


def test_compiling_process_refuses_cpu_tensors_for_triton(compiled: dict[str, Any]) -> None:
    message = compiled["cpu_triton_error"]
    assert "cannot run on cpu tensors" in message
    assert "TRITON_INTERPRET=1" in message


def test_bf16_has_no_ahead_of_time_kernel(compiled: dict[str, Any]) -> None:
    assert "no ahead-of-time kernel for dtype torch.bfloat16" in compiled["bf16_error"]


def test_plan_rejects_mismatched_feature_sizes() -> None:
    with pytest.raises(CenterMatchInputError, match="feature size 384 differs"):
        plan_center_match_launch(
            features_shape=(2, 1024, 384),
            centers_shape=(1, 1024, 1536),
            dtype=torch.float16,
            arch=90,
        )


def test_plan_rejects_wrong_ranks() -> None:
    with pytest.raises(CenterMatchInputError, match="rank-3"):
        plan_center_match_launch(
            features_shape=(1024, 384), centers_shape=(1, 1024, 384), dtype=torch.float16, arch=90
        )

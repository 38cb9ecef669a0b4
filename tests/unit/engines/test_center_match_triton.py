"""The Triton center-matching kernel against the PyTorch reference.

Triton fixes its mode when it is first imported: with ``TRITON_INTERPRET=1``
its kernels run only in the interpreter and nothing can be compiled for a GPU.
So the CPU cases run in one child process started with ``TRITON_INTERPRET=1``
(this process stays free to compile, see test_trt_plugin_aot.py). Inputs are
made here, fresh and seeded; the child only runs the kernel; every comparison
happens here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.conftest import REPO_ROOT
from training.cras.center_matching import center_match_reference, gather_centers

SMALL_BLOCKS = {"block_n": 16, "block_m": 16, "block_d": 16}

CHILD = """
import sys
import torch
from engines.kernels import KernelConfig, KernelUnavailableError, center_match
from engines.kernels.aot import compile_center_match

cases = torch.load(sys.argv[1])
results = {}
for name, case in cases.items():
    config = KernelConfig(**case["config"]) if case["config"] else None
    features, centers = case["features"], case["centers"]
    recomposed, index = center_match(features, centers, impl="triton", config=config)
    results[name] = {"recomposed": recomposed, "index": index}
try:
    compile_center_match(dtype=torch.float16, arch=90)
    results["aot_error"] = ""
except KernelUnavailableError as error:
    results["aot_error"] = str(error)
torch.save(results, sys.argv[2])
"""


def run_child(script: str, *args: str, interpret: bool, timeout_s: float = 300) -> None:
    """Run ``script`` in a fresh Python with or without Triton's interpreter."""
    env = {key: value for key, value in os.environ.items() if key != "TRITON_INTERPRET"}
    if interpret:
        env["TRITON_INTERPRET"] = "1"
    env.setdefault("OMP_NUM_THREADS", "1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    assert result.returncode == 0, f"child failed:\n{result.stdout}\n{result.stderr}"


def random_case(
    seed: int,
    *,
    batch: int,
    rows: int,
    centers_rows: int,
    dim: int,
    dtype: torch.dtype = torch.float32,
    centers_dtype: torch.dtype | None = None,
    shared: bool = False,
    config: dict[str, int] | None = None,
) -> dict[str, Any]:
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(batch, rows, dim, generator=generator).to(dtype)
    centers = torch.randn(1 if shared else batch, centers_rows, dim, generator=generator)
    return {"features": features, "centers": centers.to(centers_dtype or dtype), "config": config}


def planted_ties_case() -> dict[str, Any]:
    """Integer-valued vectors (exact dot products) with duplicated center rows.

    Per item: centers 5, 21, 37 are one vector (blocks 0, 1 and 2 of 16),
    centers 9 and 12 another (same block), 20 and 35 a third (blocks 1 and 2),
    center 3 is zero. Feature rows: parallel to 37 -> 5; to 12 -> 9; to 35 -> 20;
    a zero row -> 0.
    """
    generator = torch.Generator().manual_seed(7)
    centers = torch.randint(-3, 4, (2, 40, 24), generator=generator).float()
    centers[:, 21] = centers[:, 5]
    centers[:, 37] = centers[:, 5]
    centers[:, 12] = centers[:, 9]
    centers[:, 35] = centers[:, 20]
    centers[:, 3] = 0.0
    features = torch.randint(-3, 4, (2, 19, 24), generator=generator).float()
    features[:, 0] = 2.0 * centers[:, 37]
    features[:, 1] = 3.0 * centers[:, 12]
    features[:, 2] = centers[:, 35]
    features[:, 3] = 0.0
    return {"features": features, "centers": centers, "config": SMALL_BLOCKS}


def all_negative_case() -> dict[str, Any]:
    """Every feature is dissimilar to every center (all cosines < 0), M < one block.

    Masked-off center slots must never win with their score of 0.
    """
    case = random_case(10, batch=2, rows=6, centers_rows=5, dim=20, config=SMALL_BLOCKS)
    case["centers"][..., 0] = 10.0 + case["centers"][..., 0].abs()
    case["features"][..., 0] = -10.0
    return case


def cases() -> dict[str, dict[str, Any]]:
    transposed = random_case(11, batch=2, rows=33, centers_rows=21, dim=40, config=SMALL_BLOCKS)
    # A non-contiguous view: [B, D, N] storage seen as [B, N, D].
    transposed["features"] = transposed["features"].transpose(1, 2).contiguous().transpose(1, 2)
    return {
        "odd_fp32_per_item": random_case(
            1, batch=2, rows=37, centers_rows=29, dim=45, config=SMALL_BLOCKS
        ),
        "odd_fp16_shared": random_case(
            2,
            batch=3,
            rows=50,
            centers_rows=70,
            dim=33,
            dtype=torch.float16,
            shared=True,
            config=SMALL_BLOCKS,
        ),
        "default_blocks_fp32": random_case(3, batch=2, rows=130, centers_rows=100, dim=70),
        "default_blocks_fp16_shared": random_case(
            4, batch=2, rows=100, centers_rows=150, dim=96, dtype=torch.float16, shared=True
        ),
        "fewer_than_one_block": random_case(
            5, batch=1, rows=5, centers_rows=3, dim=7, shared=True, config=SMALL_BLOCKS
        ),
        "fp32_features_fp16_centers": random_case(
            6,
            batch=2,
            rows=24,
            centers_rows=18,
            dim=20,
            centers_dtype=torch.float16,
            config=SMALL_BLOCKS,
        ),
        "bf16": random_case(
            8,
            batch=1,
            rows=20,
            centers_rows=17,
            dim=24,
            dtype=torch.bfloat16,
            config=SMALL_BLOCKS,
        ),
        "non_contiguous_features": transposed,
        "no_rows": random_case(9, batch=2, rows=0, centers_rows=5, dim=16),
        "all_similarities_negative": all_negative_case(),
        "planted_ties": planted_ties_case(),
    }


@pytest.fixture(scope="module")
def kernel_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Inputs and the interpreted kernel's outputs, by case name."""
    folder: Path = tmp_path_factory.mktemp("center_match_interpreter")
    inputs = cases()
    torch.save(inputs, folder / "inputs.pt")
    run_child(CHILD, str(folder / "inputs.pt"), str(folder / "outputs.pt"), interpret=True)
    outputs = torch.load(folder / "outputs.pt")
    return {"inputs": inputs, "outputs": outputs}


# Rows whose best two centers are closer than this may differ by summation order.
NEAR_TIE = 1e-5


def assert_matches_reference(
    case: dict[str, Any],
    output: dict[str, torch.Tensor],
    *,
    exact: bool = True,
    min_clear_fraction: float = 0.99,
) -> None:
    """The kernel's contract, checked against the reference.

    Every chosen center is a most similar one (within float rounding); where the
    best two centers are not near-tied the index is exactly the reference's;
    with ``exact`` every index is. The recomposed rows are the chosen centers.
    """
    features, centers = case["features"], case["centers"]
    index, recomposed = output["index"], output["recomposed"]
    _, expected_index = center_match_reference(features, centers)
    assert index.dtype == torch.int64
    assert index.shape == expected_index.shape
    assert recomposed.dtype == centers.dtype
    assert torch.equal(recomposed, gather_centers(centers, index))
    unit_features = torch.nn.functional.normalize(features.float(), dim=-1)
    unit_centers = torch.nn.functional.normalize(centers.float(), dim=-1)
    similarity = unit_features @ unit_centers.expand(features.shape[0], -1, -1).transpose(1, 2)
    chosen = similarity.gather(2, index.unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(chosen, similarity.amax(dim=2), rtol=0, atol=NEAR_TIE)
    if similarity.shape[2] > 1:
        top_two = similarity.topk(2, dim=2).values
        clear = (top_two[..., 0] - top_two[..., 1]) >= NEAR_TIE
        assert torch.equal(index[clear], expected_index[clear])
        assert clear.float().mean() >= min_clear_fraction, "too many near-ties to mean much"
    if exact:
        assert torch.equal(index, expected_index)


@pytest.mark.parametrize(
    "name",
    [
        "odd_fp32_per_item",
        "odd_fp16_shared",
        "default_blocks_fp32",
        "default_blocks_fp16_shared",
        "fewer_than_one_block",
        "fp32_features_fp16_centers",
        "bf16",
        "non_contiguous_features",
        "all_similarities_negative",
    ],
)
def test_interpreted_kernel_matches_reference(kernel_runs: dict[str, Any], name: str) -> None:
    assert_matches_reference(kernel_runs["inputs"][name], kernel_runs["outputs"][name])


def test_ties_go_to_the_lowest_index_and_zero_rows_to_index_0(kernel_runs: dict[str, Any]) -> None:
    index = kernel_runs["outputs"]["planted_ties"]["index"]
    assert index[:, :4].tolist() == [[5, 9, 20, 0], [5, 9, 20, 0]]
    assert_matches_reference(
        kernel_runs["inputs"]["planted_ties"],
        kernel_runs["outputs"]["planted_ties"],
        exact=False,
        min_clear_fraction=0.0,
    )


def test_no_rows_gives_empty_outputs(kernel_runs: dict[str, Any]) -> None:
    output = kernel_runs["outputs"]["no_rows"]
    assert output["index"].shape == (2, 0)
    assert output["recomposed"].shape == (2, 0, 16)


def test_interpreting_process_refuses_to_compile_ahead_of_time(kernel_runs: dict[str, Any]) -> None:
    message = kernel_runs["outputs"]["aot_error"]
    assert "interpreter mode" in message
    assert "without TRITON_INTERPRET" in message


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize(
    ("rows", "dim", "shared"), [(1024, 384, True), (1296, 1536, False), (777, 100, True)]
)
def test_compiled_kernel_on_gpu_matches_reference(
    dtype: torch.dtype, rows: int, dim: int, shared: bool
) -> None:
    from engines.kernels import center_match

    case = random_case(
        21, batch=3, rows=rows, centers_rows=rows, dim=dim, dtype=dtype, shared=shared
    )
    features, centers = case["features"].cuda(), case["centers"].cuda()
    recomposed, index = center_match(features, centers, impl="triton")
    output = {"recomposed": recomposed.cpu(), "index": index.cpu()}
    assert_matches_reference(
        {"features": features.cpu(), "centers": centers.cpu()}, output, exact=False
    )

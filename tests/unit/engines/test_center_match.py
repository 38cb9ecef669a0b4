"""engines.kernels.center_match / match_classes: dispatch, validation and the PyTorch path.

The Triton kernel itself is tested in test_center_match_triton.py (interpreter
subprocess, and on a GPU where there is one).
"""

from __future__ import annotations

import pytest
import torch

from engines.kernels import (
    CenterMatchInputError,
    KernelConfig,
    center_match,
    match_classes,
    resolve_impl,
)
from training.cras.center_matching import (
    center_match_reference,
    cosine_to_centers,
    match_classes_reference,
)

CPU = torch.device("cpu")


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(1234)


@pytest.mark.parametrize(
    ("batch", "rows", "centers_rows", "dim", "shared"),
    [(2, 37, 29, 45, False), (3, 300, 70, 16, True), (1, 5, 1, 3, True)],
)
def test_torch_impl_matches_reference(
    generator: torch.Generator, batch: int, rows: int, centers_rows: int, dim: int, shared: bool
) -> None:
    features = torch.randn(batch, rows, dim, generator=generator)
    centers = torch.randn(1 if shared else batch, centers_rows, dim, generator=generator)

    recomposed, index = center_match(features, centers, impl="torch", chunk_rows=64)

    expected_recomposed, expected_index = center_match_reference(features, centers)
    assert index.dtype == torch.int64
    assert index.shape == (batch, rows)
    assert torch.equal(index, expected_index)
    assert torch.equal(recomposed, expected_recomposed)


def test_auto_on_cpu_uses_torch_and_keeps_center_dtype(generator: torch.Generator) -> None:
    features = torch.randn(2, 20, 8, generator=generator)
    centers = torch.randn(2, 11, 8, generator=generator).half()

    recomposed, index = center_match(features, centers)

    assert recomposed.dtype == torch.float16
    _, expected_index = center_match_reference(features, centers)
    assert torch.equal(index, expected_index)
    # The chosen center is the most similar one: no other center scores higher.
    chosen = cosine_to_centers(features, recomposed.float())
    best = torch.nn.functional.cosine_similarity(
        features.unsqueeze(2), centers.float().unsqueeze(1), dim=-1
    ).amax(dim=2)
    torch.testing.assert_close(chosen, best, rtol=0, atol=1e-5)


def test_resolve_impl_picks_torch_on_cpu_for_auto() -> None:
    assert resolve_impl("auto", CPU) == "torch"
    assert resolve_impl("torch", CPU) == "torch"


def test_unknown_impl_is_rejected_with_a_hint() -> None:
    with pytest.raises(
        CenterMatchInputError, match="unknown center-matching implementation"
    ) as info:
        center_match(torch.zeros(1, 2, 3), torch.zeros(1, 2, 3), impl="cuda")  # type: ignore[arg-type]
    assert "triton" in info.value.hint


@pytest.mark.parametrize(
    ("features_shape", "centers_shape", "message"),
    [
        ((2, 4), (1, 3, 4), "expected features"),
        ((2, 5, 4), (1, 3, 6), "feature size 4 differs"),
        ((2, 5, 4), (3, 3, 4), "centers hold 3 items for a batch of 2"),
        ((2, 5, 4), (1, 0, 4), "no rows"),
    ],
)
def test_bad_shapes_raise_input_error(
    features_shape: tuple[int, ...], centers_shape: tuple[int, ...], message: str
) -> None:
    with pytest.raises(CenterMatchInputError, match=message):
        center_match(torch.ones(features_shape), torch.ones(centers_shape))


def test_integer_inputs_are_rejected() -> None:
    with pytest.raises(CenterMatchInputError, match="floating type"):
        center_match(torch.ones(1, 2, 3, dtype=torch.int32), torch.ones(1, 2, 3))


def test_input_error_is_also_a_value_error() -> None:
    with pytest.raises(ValueError):
        center_match(torch.ones(2, 5, 4), torch.ones(1, 3, 6))


@pytest.mark.parametrize("block", [8, 48, 0])
def test_kernel_config_rejects_blocks_tl_dot_cannot_use(block: int) -> None:
    with pytest.raises(CenterMatchInputError, match="power of two >= 16"):
        KernelConfig(block_m=block)


def test_match_classes_matches_reference(generator: torch.Generator) -> None:
    class_centers = torch.randn(4, 30, 12, generator=generator)
    # Each image is a noisy copy of one class's center, so the answer is known.
    truth = torch.tensor([2, 0, 3, 3, 1])
    features = class_centers[truth] + 0.3 * torch.randn(5, 30, 12, generator=generator)

    chosen = match_classes(features, class_centers)

    assert chosen.dtype == torch.int64
    assert torch.equal(chosen, truth)
    assert torch.equal(chosen, match_classes_reference(features, class_centers))


def test_match_classes_breaks_ties_to_the_lowest_class(generator: torch.Generator) -> None:
    center = torch.randn(1, 10, 6, generator=generator)
    class_centers = torch.cat([torch.randn(1, 10, 6, generator=generator), center, center])

    assert match_classes(2.0 * center, class_centers).tolist() == [1]


def test_match_classes_rejects_centers_of_another_size() -> None:
    with pytest.raises(CenterMatchInputError, match="do not fit"):
        match_classes(torch.ones(2, 30, 12), torch.ones(3, 36, 12))

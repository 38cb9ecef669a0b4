"""The fast patch embedding equals the literal CRAS definition (CRAS.md section 1)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from training.cras.embedding import PatchEmbedding, adaptive_pool_matrix, embed_reference


@pytest.mark.parametrize(
    ("in_size", "out_size"), [(10, 3), (360, 384), (1008, 384), (7, 7), (13, 5), (5, 13)]
)
def test_adaptive_pool_matrix_equals_adaptive_avg_pool1d(in_size: int, out_size: int) -> None:
    vectors = torch.randn(
        4, 1, in_size, generator=torch.Generator().manual_seed(in_size), dtype=torch.float64
    )
    expected = F.adaptive_avg_pool1d(vectors, out_size)[:, 0]
    matrix = adaptive_pool_matrix(in_size, out_size)
    assert matrix.shape == (out_size, in_size)
    torch.testing.assert_close(vectors[:, 0] @ matrix.T, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("channels", "grid", "pre_dim", "dim", "patch_size"),
    [
        ((40, 112), (9, 9), 384, 384, 3),  # EfficientNet-Lite0 levels, odd grid
        ((40, 112), (7, 11), 100, 77, 3),  # non-square grid, uneven pooling bins
        ((512, 1024), (5, 7), 96, 80, 3),  # WideResNet-50-2 levels (small D to stay fast)
        ((6, 10), (6, 5), 20, 13, 5),  # p = 5
    ],
)
def test_patch_embedding_equals_reference(channels, grid, pre_dim, dim, patch_size) -> None:
    generator = torch.Generator().manual_seed(sum(grid) + dim)
    height, width = grid
    coarse = (-(-height // 2), -(-width // 2))
    levels = [
        torch.randn(2, channels[0], height, width, generator=generator) * 3 + 1,
        torch.randn(2, channels[1], *coarse, generator=generator) * 2 - 0.5,
    ]
    expected = embed_reference(
        [lv.double() for lv in levels], pre_dim=pre_dim, dim=dim, patch_size=patch_size
    )
    embedding = PatchEmbedding(channels, pre_dim=pre_dim, dim=dim, patch_size=patch_size)
    result = embedding(levels)
    assert result.shape == (2, dim, height, width)
    assert result.dtype == torch.float32
    scale = float(expected.abs().max())
    torch.testing.assert_close(result.double(), expected, rtol=1e-5, atol=1e-5 * scale)


def test_reference_is_the_literal_definition_at_one_position() -> None:
    """embed_reference itself, checked by hand at an interior and a border position."""
    generator = torch.Generator().manual_seed(5)
    fine = torch.randn(1, 4, 6, 6, generator=generator, dtype=torch.float64)
    coarse = torch.randn(1, 3, 3, 3, generator=generator, dtype=torch.float64)
    pre_dim, dim = 7, 5
    result = embed_reference([fine, coarse], pre_dim=pre_dim, dim=dim)
    padded_fine = F.pad(fine, (1, 1, 1, 1))
    coarse_patches = F.unfold(coarse, 3, padding=1).reshape(1, 27, 3, 3)
    coarse_on_fine = F.interpolate(
        coarse_patches, size=(6, 6), mode="bilinear", align_corners=False
    )
    for y, x in [(2, 3), (0, 5)]:
        fine_vector = padded_fine[0, :, y : y + 3, x : x + 3].reshape(-1)  # channel-major
        parts = [
            F.adaptive_avg_pool1d(fine_vector.view(1, 1, -1), pre_dim).view(-1),
            F.adaptive_avg_pool1d(coarse_on_fine[0, :, y, x].view(1, 1, -1), pre_dim).view(-1),
        ]
        expected = F.adaptive_avg_pool1d(torch.cat(parts).view(1, 1, -1), dim).view(-1)
        torch.testing.assert_close(result[0, :, y, x], expected)


def test_patch_size_must_be_odd() -> None:
    with pytest.raises(ValueError, match="odd"):
        PatchEmbedding((4, 8), pre_dim=8, dim=8, patch_size=2)

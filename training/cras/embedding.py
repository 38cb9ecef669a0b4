"""Patch embedding of backbone features (CRAS.md section 1), as a fixed linear map.

The method, literally: for every feature level take each position's p x p
neighbourhood (zero padding), flatten it channel-major to C·p·p values and
adaptive-average-pool that vector to D_pre; bring the coarser level to the
finer grid by bilinear interpolation; concatenate the levels and pool again
to D. :func:`embed_reference` does exactly this.

Every step is linear and acts either on channels or on space, so the whole
map folds into one p x p convolution per level with precomputed weights,
followed by upsampling and a sum (:class:`PatchEmbedding`). That is several
times faster, exports to ONNX as two Conv nodes, and a parity test checks it
against the reference.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def adaptive_pool_matrix(in_size: int, out_size: int) -> torch.Tensor:
    """Matrix P [out, in] such that ``P @ v`` equals ``adaptive_avg_pool1d(v, out)``."""
    matrix = torch.zeros(out_size, in_size, dtype=torch.float64)
    for i in range(out_size):
        start = (i * in_size) // out_size
        stop = -((-(i + 1) * in_size) // out_size)  # ceil
        matrix[i, start:stop] = 1.0 / (stop - start)
    return matrix


class PatchEmbedding(nn.Module):
    """Fixed (non-trainable) embedding of two or more feature levels into D channels.

    Args:
        channels: Channels of each level, finest first.
        pre_dim: D_pre, the per-level size after the first pooling.
        dim: D, the output size.
        patch_size: p, the neighbourhood side (odd).
    """

    def __init__(
        self, channels: tuple[int, ...], *, pre_dim: int, dim: int, patch_size: int = 3
    ) -> None:
        super().__init__()
        if patch_size % 2 != 1:
            raise ValueError("patch_size must be odd")
        self.patch_size = patch_size
        self.dim = dim
        final = adaptive_pool_matrix(pre_dim * len(channels), dim)
        for level, level_channels in enumerate(channels):
            per_level = adaptive_pool_matrix(level_channels * patch_size * patch_size, pre_dim)
            folded = final[:, level * pre_dim : (level + 1) * pre_dim] @ per_level
            weight = folded.reshape(dim, level_channels, patch_size, patch_size).float()
            self.register_buffer(f"weight_{level}", weight, persistent=False)
        self.levels = len(channels)

    def forward(self, levels: list[torch.Tensor]) -> torch.Tensor:
        """Embed feature levels.

        Args:
            levels: ``[B, C_l, H_l, W_l]`` per level, finest first.

        Returns:
            Embedded features on the finest grid, [B, D, H_0, W_0].
        """
        pad = self.patch_size // 2
        height, width = levels[0].shape[-2:]
        total = None
        for level, features in enumerate(levels):
            weight = getattr(self, f"weight_{level}").to(features.dtype)
            embedded = F.conv2d(features, weight, padding=pad)
            if embedded.shape[-2:] != (height, width):
                embedded = F.interpolate(
                    embedded, size=(height, width), mode="bilinear", align_corners=False
                )
            total = embedded if total is None else total + embedded
        assert total is not None
        return total


def embed_reference(
    levels: list[torch.Tensor], *, pre_dim: int, dim: int, patch_size: int = 3
) -> torch.Tensor:
    """The literal CRAS embedding (slow): unfold, pool, interpolate, stack, pool.

    Args:
        levels: ``[B, C_l, H_l, W_l]`` per level, finest first.

    Returns:
        [B, D, H_0, W_0], equal to :class:`PatchEmbedding` up to float rounding.
    """
    batch = levels[0].shape[0]
    height, width = levels[0].shape[-2:]
    pooled_levels = []
    for features in levels:
        channels, h, w = features.shape[1:]
        patches = F.unfold(features, kernel_size=patch_size, padding=patch_size // 2)
        # [B, C*p*p, h*w] -> [B, C*p*p, h, w]: each position's channel-major patch vector.
        patches = patches.reshape(batch, channels * patch_size * patch_size, h, w)
        if (h, w) != (height, width):
            patches = F.interpolate(
                patches, size=(height, width), mode="bilinear", align_corners=False
            )
        vectors = patches.permute(0, 2, 3, 1).reshape(-1, 1, channels * patch_size * patch_size)
        pooled_levels.append(F.adaptive_avg_pool1d(vectors, pre_dim))  # [BHW, 1, D_pre]
    stacked = torch.cat(pooled_levels, dim=2)  # level-major concatenation
    embedded = F.adaptive_avg_pool1d(stacked, dim).reshape(batch, height, width, dim)
    return embedded.permute(0, 3, 1, 2)

"""From patch scores to a full-size anomaly map (CRAS.md section 6)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def gaussian_kernel_1d(sigma_px: float, *, truncate: float = 4.0) -> torch.Tensor:
    """Normalised 1-D Gaussian taps with radius ``round(truncate * sigma)``."""
    radius = math.floor(truncate * sigma_px + 0.5)
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    taps = torch.exp(-0.5 * (offsets / sigma_px) ** 2)
    return (taps / taps.sum()).float()


class AnomalyMapHead(nn.Module):
    """Bilinear upsampling of the score grid to the tile size, then a Gaussian blur.

    The blur is separable, with reflected borders, so it exports to ONNX as two
    convolutions.

    Args:
        tile_px: S, the output side.
        sigma_px: Gaussian sigma in output pixels (paper: 4).
    """

    def __init__(self, tile_px: int, *, sigma_px: float = 4.0) -> None:
        super().__init__()
        self.tile_px = tile_px
        taps = gaussian_kernel_1d(sigma_px)
        self.radius = (taps.numel() - 1) // 2
        self.register_buffer("taps_x", taps.view(1, 1, 1, -1), persistent=False)
        self.register_buffer("taps_y", taps.view(1, 1, -1, 1), persistent=False)

    def forward(self, score_grid: torch.Tensor) -> torch.Tensor:
        """[B, H, W] patch scores -> [B, S, S] smoothed anomaly map."""
        maps = F.interpolate(
            score_grid.unsqueeze(1),
            size=(self.tile_px, self.tile_px),
            mode="bilinear",
            align_corners=False,
        )
        r = self.radius
        maps = F.conv2d(F.pad(maps, (r, r, 0, 0), mode="reflect"), self.taps_x)
        maps = F.conv2d(F.pad(maps, (0, 0, r, r), mode="reflect"), self.taps_y)
        return maps.squeeze(1)

"""Anomaly map head: Gaussian taps, upsampling and smoothing (CRAS.md section 6)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage

from training.cras.scoring import AnomalyMapHead, gaussian_kernel_1d


@pytest.mark.parametrize(("sigma", "radius"), [(4.0, 16), (1.3, 5), (0.6, 2), (2.5, 10)])
def test_taps_sum_to_one_with_radius_four_sigma(sigma: float, radius: int) -> None:
    taps = gaussian_kernel_1d(sigma)
    assert taps.numel() == 2 * radius + 1
    assert float(taps.sum()) == pytest.approx(1.0, abs=1e-6)
    assert torch.equal(taps, taps.flip(0)) and int(taps.argmax()) == radius
    offsets = np.arange(-radius, radius + 1)
    expected = np.exp(-0.5 * (offsets / sigma) ** 2)
    np.testing.assert_allclose(taps.numpy(), expected / expected.sum(), rtol=1e-6)


def test_map_equals_bilinear_upsampling_then_scipy_gaussian() -> None:
    grid = torch.rand(3, 8, 8, generator=torch.Generator().manual_seed(0))
    head = AnomalyMapHead(64, sigma_px=4.0)
    maps = head(grid)
    assert maps.shape == (3, 64, 64)
    upsampled = (
        F.interpolate(grid[:, None], size=(64, 64), mode="bilinear", align_corners=False)[:, 0]
        .double()
        .numpy()
    )
    # torch "reflect" padding (edge pixel not repeated) is scipy's "mirror" mode.
    expected = np.stack(
        [ndimage.gaussian_filter(m, sigma=4.0, mode="mirror", truncate=4.0) for m in upsampled]
    )
    np.testing.assert_allclose(maps.numpy(), expected, atol=1e-6)


def test_constant_grid_stays_constant() -> None:
    head = AnomalyMapHead(96, sigma_px=4.0)
    maps = head(torch.full((2, 12, 12), 0.3125))
    torch.testing.assert_close(maps, torch.full((2, 96, 96), 0.3125))


@pytest.mark.parametrize(("row", "col"), [(2, 5), (0, 0), (7, 3)])
def test_single_hot_cell_peaks_in_its_own_pixels(row: int, col: int) -> None:
    grid = torch.full((1, 8, 8), 0.1)
    grid[0, row, col] = 0.9
    maps = AnomalyMapHead(64)(grid)[0]
    peak_row, peak_col = np.unravel_index(int(maps.argmax()), maps.shape)
    assert row * 8 <= peak_row < row * 8 + 8 and col * 8 <= peak_col < col * 8 + 8
    # Smoothing lowers the peak but keeps it well above the background.
    assert 0.1 < float(maps.max()) < 0.9
    assert float(maps[peak_row, peak_col]) > float(maps[(peak_row + 32) % 64, peak_col])

"""The center-structure tool's geometry: rings from the tile edge, match offsets, peaks."""

from __future__ import annotations

import torch

from experiments.center_structure import (
    edge_profile,
    match_offsets,
    peak_rings,
    ring_groups,
    ring_index,
    side_profiles,
)


def test_rings_count_cells_to_the_nearest_edge() -> None:
    rings = ring_index(6).reshape(6, 6)
    assert rings[0].tolist() == [0, 0, 0, 0, 0, 0]
    assert rings[2].tolist() == [0, 1, 2, 2, 1, 0]
    assert int((rings == 2).sum()) == 4  # the inner 2x2 of a 6x6 grid


def test_edge_profile_recovers_a_planted_border_offset() -> None:
    grid, dim = 8, 5
    generator = torch.Generator().manual_seed(0)
    base = torch.randn(dim, generator=generator)
    rings = ring_index(grid)
    direction = torch.zeros(dim)
    direction[0] = 1.0
    # offset 3 on the outer ring, 1 on the next, nothing inside
    offset = torch.where(rings == 0, 3.0, torch.where(rings == 1, 1.0, 0.0))
    center = base + offset[:, None] * direction
    profile = edge_profile(center, grid, inner_from=2)
    assert torch.allclose(torch.tensor(profile), torch.tensor([3.0, 1.0, 0.0, 0.0]), atol=1e-5)


def test_side_profiles_tell_left_right_from_top_bottom() -> None:
    grid, dim = 8, 3
    center = torch.zeros(grid, grid, dim)
    center[:, [0, -1], 0] = 4.0  # left and right columns
    center[:, [1, -2], 0] = 1.0  # the columns next to them
    center[[0, -1], :, 1] = 2.0  # top and bottom rows only
    left_right, top_bottom = side_profiles(center.reshape(-1, dim), grid, inner_from=2)
    # the middle band keeps the corners, where the two offsets meet, out of each profile
    assert left_right == [4.0, 1.0, 0.0, 0.0]
    assert top_bottom == [2.0, 0.0, 0.0, 0.0]


def test_match_offsets_are_chebyshev_distances_on_the_grid() -> None:
    grid = 4
    own = torch.arange(grid * grid)
    index = own.clone()
    index[0] = 15  # (0,0) matched to (3,3)
    index[5] = 6  # (1,1) matched to (1,2)
    index[10] = 0  # (2,2) matched to (0,0)
    offsets = match_offsets(index[None], grid)[0]
    assert offsets[0] == 3 and offsets[5] == 1 and offsets[10] == 2
    assert int(offsets.sum()) == 6


def test_peak_rings_locate_each_tiles_maximum() -> None:
    grids = torch.zeros(2, 6, 6)
    grids[0, 0, 3] = 1.0  # on the edge
    grids[1, 2, 3] = 1.0  # in the middle
    assert peak_rings(grids).tolist() == [0, 2]


def test_ring_groups_cover_every_ring_once() -> None:
    groups = ring_groups(32)
    covered = [ring for _, low, high in groups for ring in range(low, high)]
    assert covered == list(range(16))
    assert groups[0] == ("0", 0, 1) and groups[-1] == ("12-15", 12, 16)

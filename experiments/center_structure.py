"""``python -m experiments.center_structure --data DIR [--model M ...]``

What the contextual centers hold on a textile web, and where normal tiles peak.

A measurement tool (docs/research/contextual_centers.md), label-free: it reads the train
and validation splits only.

1. Fits the centers of a fresh default model on the training tiles (adaptor at its
   initial weights, as training does) and prints, per fabric, how far the center
   vectors lie from the class's inner-area mean at each distance from the tile edge,
   against the sampling noise of a mean over that many tiles. On a stationary texture
   a per-position mean can only differ from the class mean through something tied to
   the tile frame, such as the backbone's zero padding. The same along rows and along
   columns apart (middle band), for context that a tile has on two sides only
   (``mirrored_features --context strip``).
2. On validation normals: how far each feature's local match lands from its own
   position, and the residual to the matched center against the residual to the
   class mean (what CRD would see if the center had no positions at all).
3. Per ``--model``: at which distance from the tile edge each validation-normal tile
   has its highest patch score (the tile score), against the share of positions there.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import torch

from training.config import TrainConfig
from training.cras.center_matching import center_match_chunked
from training.data.datasets import load_tiles
from training.features import cached_features
from training.model_file import load_model
from training.trainer import build_model, fit_statistics

# Rings from the edge inward that are reported separately; the rest is "inner".
EDGE_RINGS = (0, 1, 2, 3, 4, 6, 8, 10, 12)


def ring_index(grid: int) -> torch.Tensor:
    """Distance of every grid position to the nearest tile edge, flattened [grid*grid]."""
    y, x = torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij")
    return torch.minimum(torch.minimum(y, x), torch.minimum(grid - 1 - y, grid - 1 - x)).flatten()


def edge_profile(center: torch.Tensor, grid: int, inner_from: int) -> list[float]:
    """Median distance of a class's center vectors [N, D] to its inner-area mean, per ring.

    The inner area is every position at least ``inner_from`` cells from the edge.
    Returns one median per ring 0 .. grid // 2 - 1.
    """
    ring = ring_index(grid)
    distance = _distance_to_inner_mean(center, ring, inner_from)
    return [float(distance[ring == r].median()) for r in range(grid // 2)]


def _distance_to_inner_mean(
    center: torch.Tensor, ring: torch.Tensor, inner_from: int
) -> torch.Tensor:
    """|center vector - mean of the positions at least ``inner_from`` from the edge|, [N]."""
    return (center - center[ring >= inner_from].mean(0)).norm(dim=-1)


def side_profiles(
    center: torch.Tensor, grid: int, inner_from: int
) -> tuple[list[float], list[float]]:
    """The same distance along a row and along a column, away from the corners.

    Median over the middle band (positions at least ``inner_from`` cells from the other
    pair of edges) at each distance 0 .. grid // 2 - 1 from the left/right edges and from
    the top/bottom edges, so context that a tile has on two sides only can be told apart.
    """
    distance = _distance_to_inner_mean(center, ring_index(grid), inner_from).reshape(grid, grid)
    band = slice(inner_from, grid - inner_from)
    left_right = [
        float(torch.cat([distance[band, d], distance[band, grid - 1 - d]]).median())
        for d in range(grid // 2)
    ]
    top_bottom = [
        float(torch.cat([distance[d, band], distance[grid - 1 - d, band]]).median())
        for d in range(grid // 2)
    ]
    return left_right, top_bottom


def match_offsets(index: torch.Tensor, grid: int) -> torch.Tensor:
    """Chebyshev distance between each position and the center position it matched, [B, N]."""
    own = torch.arange(grid * grid, device=index.device)
    dy = (index // grid - own // grid).abs()
    dx = (index % grid - own % grid).abs()
    return torch.maximum(dx, dy)


def peak_rings(score_grid: torch.Tensor) -> torch.Tensor:
    """Distance to the tile edge of each tile's highest score, score_grid [B, g, g] -> [B]."""
    grid = score_grid.shape[-1]
    return ring_index(grid).to(score_grid.device)[score_grid.flatten(1).argmax(dim=1)]


def _quantiles(values: torch.Tensor) -> str:
    qs = torch.quantile(values.float().flatten(), torch.tensor([0.05, 0.5, 0.95]))
    return " / ".join(f"{float(v):.2f}" for v in qs)


def ring_groups(grid: int) -> list[tuple[str, int, int]]:
    """Named ring ranges [low, high) from the edge inward, as in EDGE_RINGS."""
    bounds = [*EDGE_RINGS, grid // 2]
    return [
        (f"{low}" if high == low + 1 else f"{low}-{high - 1}", low, high)
        for low, high in itertools.pairwise(bounds)
    ]


@torch.no_grad()
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--data", type=Path, required=True, help="AITEX folder")
    parser.add_argument("--model", type=Path, action="append", default=[], help="model folder")
    parser.add_argument("--cache-dir", type=Path, default=Path("runs/cache"))
    parser.add_argument("--inner-from", type=int, default=8, help="rings that count as inner")
    args = parser.parse_args(argv)

    torch.manual_seed(0)  # the adaptor's initial weights, as `station train` draws them
    train = load_tiles(args.data, layout="aitex", split="train", progress=False)
    val = load_tiles(args.data, layout="aitex", split="val", progress=False)
    model, sha = build_model(TrainConfig(data=args.data), list(train.classes))
    model.eval()
    raw_train = cached_features(
        model, train, weights_sha256=sha, cache_dir=args.cache_dir, desc="train"
    )
    raw_val = cached_features(model, val, weights_sha256=sha, cache_dir=args.cache_dir, desc="val")
    train_class = torch.as_tensor(train.class_index)
    fit_statistics(model, raw_train, train_class)
    grid = model.spec.grid_px
    ring = ring_index(grid)

    print(f"fabrics {', '.join(train.classes)}; grid {grid}x{grid}; D {model.spec.dim}")
    print(f"median |center vector - inner mean| by distance to the tile edge 0..{grid // 2 - 1}:")
    for k, name in enumerate(train.classes):
        adapted = model.adaptor(model.standardise(raw_train[train_class == k]))
        noise = (adapted.var(dim=0).sum(-1) / len(adapted)).sqrt()  # of a mean over n tiles
        profile = " ".join(
            f"{v:.1f}" for v in edge_profile(model.centers[k], grid, args.inner_from)
        )
        print(f"  {name} ({len(adapted)} tiles): {profile}; sampling noise {_quantiles(noise)}")
        sides = side_profiles(model.centers[k], grid, args.inner_from)
        for label, values in zip(("left/right", "top/bottom"), sides, strict=True):
            print(f"    {label}, middle band: {' '.join(f'{v:.1f}' for v in values)}")

    val_class = torch.as_tensor(val.class_index)
    adapted = model.adaptor(model.standardise(raw_val))
    own_centers = model.centers[val_class]
    matched, index = center_match_chunked(adapted, own_centers)
    offsets = match_offsets(index, grid)
    inner = ring >= args.inner_from
    to_match = (adapted - matched).norm(dim=-1)
    to_mean = (adapted - own_centers[:, inner].mean(1, keepdim=True)).norm(dim=-1)
    print(f"validation normals ({len(val)} tiles), local match, 5 / 50 / 95 %:")
    for label, where in (("edge rings 0-2", ring < 3), ("inner", inner)):
        print(
            f"  {label}: at own position {float((offsets[:, where] == 0).float().mean()):.2f},"
            f" within 1 cell {float((offsets[:, where] <= 1).float().mean()):.2f};"
            f" |f - match| {_quantiles(to_match[:, where])},"
            f" |f - class inner mean| {_quantiles(to_mean[:, where])}"
        )

    groups = ring_groups(grid)
    if args.model:
        print("validation normals: where each tile's highest patch score lies (share of tiles)")
        print("| model | " + " | ".join(f"ring {name}" for name, _, _ in groups) + " |")
        print("|---" * (len(groups) + 1) + "|")
        shares = [
            f"{float(((ring >= low) & (ring < high)).float().mean()):.2f}"
            for _, low, high in groups
        ]
        print("| share of positions | " + " | ".join(shares) + " |")
    for folder in args.model:
        trained, _ = load_model(folder)
        grids = torch.cat(
            [
                trained.score_embedded(trained.standardise(raw_val[start : start + 32])).score_grid
                for start in range(0, len(raw_val), 32)
            ]
        )
        peaks = peak_rings(grids)
        shares = [
            f"{float(((peaks >= low) & (peaks < high)).float().mean()):.2f}"
            for _, low, high in groups
        ]
        print(f"| {folder} | " + " | ".join(shares) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

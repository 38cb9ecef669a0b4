"""``python -m experiments.sliver_tiles --data DIR --cache-dir CACHE --model A --model B``

Tile I-AUROC when the tiles that hold only a tiny defect are left out.

A measurement tool (docs/research/tiny_defects.md). It scores the AITEX test split with
each model (cached backbone features when the cache has them) and prints, per model and
fabric, the tile I-AUROC with every defective tile counted (the product's metric) and
with the defective tiles that hold fewer than N defect pixels left out of the ranking
altogether (neither normal nor defective). A tile is labelled defective for a single
mask pixel, and some AITEX defects are a few dozen pixels in all; this says how much of
a model's tile I-AUROC rests on them. Pixel figures do not depend on the rule."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from training.data.datasets import load_tiles
from training.evaluate import score_model
from training.features import cached_features
from training.metrics import auroc
from training.model_file import load_model

DEFAULT_MINIMUM_AREAS = (0, 100, 1000)


def defective_at(defect_pixels: np.ndarray, minimum: int) -> np.ndarray:
    """Tiles that stay in the ranking as defective (minimum 0 keeps every defective tile)."""
    return defect_pixels >= max(minimum, 1)


def sliver_table(
    tile_scores: np.ndarray,
    defect_pixels: np.ndarray,
    class_index: np.ndarray,
    classes: tuple[str, ...],
    minimum_areas: tuple[int, ...],
) -> dict[int, dict[str, float]]:
    """Per minimum area: tile I-AUROC per class and their mean, slivers left out."""
    table = {}
    for minimum in minimum_areas:
        row = {}
        for index, name in enumerate(classes):
            normal = (class_index == index) & (defect_pixels == 0)
            defective = (class_index == index) & defective_at(defect_pixels, minimum)
            keep = normal | defective
            row[name] = auroc(tile_scores[keep], defective[keep])
        row["mean"] = float(np.nanmean([row[name] for name in classes]))
        table[minimum] = row
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--data", type=Path, required=True, help="AITEX folder")
    parser.add_argument("--cache-dir", type=Path, default=None, help="backbone feature cache")
    parser.add_argument("--model", type=Path, action="append", required=True)
    parser.add_argument(
        "--min-pixels",
        type=int,
        nargs="+",
        default=list(DEFAULT_MINIMUM_AREAS),
        help="defect pixels a defective tile needs to stay in the ranking",
    )
    args = parser.parse_args(argv)

    tiles = load_tiles(args.data, layout="aitex", split="test", progress=False)
    defect_pixels = tiles.masks.reshape(len(tiles), -1).sum(axis=1)
    minimum_areas = tuple(args.min_pixels)
    counts = []
    for index, name in enumerate(tiles.classes):
        fabric = tiles.class_index == index
        kept = [int((fabric & defective_at(defect_pixels, m)).sum()) for m in minimum_areas]
        counts.append(f"{name} " + "/".join(str(k) for k in kept))
    print(f"defective test tiles kept at {minimum_areas} px: " + ", ".join(counts))
    print("| model | min defect px | " + " | ".join(tiles.classes) + " | mean |")
    print("|---|---|" + "---|" * (len(tiles.classes) + 1))
    for model_dir in args.model:
        model, metadata = load_model(model_dir)
        raw = cached_features(
            model,
            tiles,
            weights_sha256=metadata.backbone_weights_sha256,
            cache_dir=args.cache_dir,
            desc="test",
            progress=False,
        )
        scored, _ = score_model(model, tiles, raw_features=raw, progress=False)
        table = sliver_table(
            scored.tile_scores, defect_pixels, tiles.class_index, tiles.classes, minimum_areas
        )
        for minimum, row in table.items():
            cells = " | ".join(f"{100 * row[name]:.1f}" for name in (*tiles.classes, "mean"))
            print(f"| {model_dir} | {minimum} | {cells} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

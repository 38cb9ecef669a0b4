"""Evaluation on a labelled split: per-class and mean detection metrics.

Pixel metrics count fabric pixels only: pixels the background rule marks as
lying beyond the web edge (training.data.tiling) are not fabric, are never
inspected by the station, and are left out for every method alike.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from training.cras.model import CrasModel
from training.data.items import TileSet
from training.features import extract_features
from training.metrics import detection_metrics
from training.validation import score_cached

log = logging.getLogger(__name__)

METRIC_KEYS = ("image_auroc", "image_ap", "pixel_auroc", "pixel_ap", "pro", "f1_max")


@dataclass
class ScoredTiles:
    """A method's output on a tile set."""

    tile_scores: np.ndarray  # float32 [T]
    maps: np.ndarray  # float32 [T, S, S]


def metrics_by_class(tiles: TileSet, scored: ScoredTiles) -> dict:
    """``{"mean": {...}, "per_class": {name: {...}}}``; mean is over classes.

    Classes whose test tiles are all normal (or all defective) have NaN for
    the metrics that need both; the mean skips NaN.
    """
    per_class = {}
    labels = tiles.labels
    for index, name in enumerate(tiles.classes):
        keep = tiles.class_index == index
        if not keep.any():
            continue
        figures = detection_metrics(
            scored.tile_scores[keep],
            labels[keep],
            scored.maps[keep],
            tiles.masks[keep],
            valid=tiles.fabric[keep],
        )
        figures["tiles"] = int(keep.sum())
        figures["defective_tiles"] = int(labels[keep].sum())
        per_class[name] = figures
    mean = {
        key: float(np.nanmean([c[key] for c in per_class.values()]))
        if any(not np.isnan(c[key]) for c in per_class.values())
        else float("nan")
        for key in METRIC_KEYS
    }
    return {"mean": mean, "per_class": per_class}


def score_model(
    model: CrasModel,
    tiles: TileSet,
    *,
    raw_features: torch.Tensor | None = None,
    progress: bool = True,
) -> tuple[ScoredTiles, np.ndarray]:
    """Run a CRAS model over tiles; returns scores/maps and the matched class per tile."""
    if raw_features is None:
        raw_features = extract_features(model, tiles, desc="scoring", progress=progress)
    scores, maps, matched = score_cached(model, raw_features)
    return ScoredTiles(tile_scores=scores, maps=maps), matched


def image_heights(tiles: TileSet) -> list[int]:
    """Heights in pixels (lines along the roll) of the images the tiles were cut from.

    Each image counts once, however many tiles it gave; with the pixel size this is
    the length of fabric the tiles cover (``training.calibration.fabric_metres``).
    """
    heights = []
    for number in sorted(set(tiles.image_index.tolist())):
        with Image.open(tiles.items[number].path) as image:
            heights.append(image.size[1])
    return heights


def false_alarms_per_metre(
    tiles: TileSet,
    scored: ScoredTiles,
    *,
    pixel_threshold: float,
    metres: float,
    merge_gap_px: int = 0,
) -> float:
    """Alarms on the normal tiles per metre, counted on whole stitched images.

    An alarm is a connected region above the threshold on an image's stitched
    map, so a line across several tiles counts once, as the station logs it.
    """
    from training.calibration import count_alarms, stitch_tile_maps

    normal = tiles.labels == 0
    if metres <= 0 or not normal.any():
        return float("nan")
    image_maps, image_valid = stitch_tile_maps(
        scored.maps[normal], tiles.image_index[normal], tiles.boxes[normal], tiles.fabric[normal]
    )
    alarms = count_alarms(image_maps, pixel_threshold, valid=image_valid, merge_gap_px=merge_gap_px)
    return alarms / metres


def write_map_images(tiles: TileSet, scored: ScoredTiles, folder: Path, *, limit: int = 64) -> int:
    """Save side-by-side PNGs (tile | ground truth | anomaly map) of the top-scoring tiles."""
    folder.mkdir(parents=True, exist_ok=True)
    order = np.argsort(-scored.tile_scores)[:limit]
    low, high = float(scored.maps.min()), float(scored.maps.max())
    for rank, index in enumerate(order):
        tile = tiles.tiles[index]
        grey = tile[..., 0] if tile.shape[-1] == 1 else tile.mean(axis=-1).astype(np.uint8)
        truth = (tiles.masks[index] * 255).astype(np.uint8)
        heat = ((scored.maps[index] - low) / max(high - low, 1e-9) * 255).astype(np.uint8)
        class_name = tiles.classes[tiles.class_index[index]]
        name = f"{rank:03d}_{class_name}_score{scored.tile_scores[index]:.3f}.png"
        Image.fromarray(np.hstack([grey, truth, heat])).save(folder / name)
    return len(order)


def write_json(result: dict, path: Path) -> None:
    """Write metrics as JSON (NaN becomes null so any JSON reader accepts it)."""

    def clean(value):
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, float) and np.isnan(value):
            return None
        return value

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(clean(result), indent=2), encoding="utf-8")


def format_table(results: dict[str, dict]) -> str:
    """A plain-text table: one row per method (or class), metrics in percent."""
    header = f"{'':<22}" + "".join(f"{k:>12}" for k in METRIC_KEYS)
    lines = [header]
    for name, figures in results.items():
        cells = "".join(
            f"{'-':>12}"
            if figures.get(k) is None or np.isnan(figures[k])
            else f"{100 * figures[k]:>12.1f}"
            for k in METRIC_KEYS
        )
        lines.append(f"{name:<22}{cells}")
    return "\n".join(lines)

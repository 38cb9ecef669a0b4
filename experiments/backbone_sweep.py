"""Nearest-neighbour detection quality and CPU speed of each backbone's features.

For every backbone: the frozen backbone and the default patch embedding
(``station train``'s defaults: tile size, channels, input scale, D) embed the
training and test tiles; the per-dimension statistics of the training features
standardise both, exactly as a trained model would; the nearest-neighbour
patch baseline of ``station evaluate --nearest-neighbour`` (a seeded random
fraction of the training patches as memory bank) scores the test tiles; the
usual metrics follow per class and as the mean over classes. Nothing is
trained, so the figures compare the features alone.

Speed: tiles per second of a whole (untrained, same class as shipped) CRAS
model on the CPU at a given batch size and thread count, median of timed calls.

Usage (from the repository root)::

    python -m experiments.backbone_sweep --data ../shared/datasets/aitex \\
        --backbones efficientnet_lite0,efficientnet_lite1,efficientnet_lite2 \\
        --bank-fraction 0.01 --cache-dir runs/cache_backbones \\
        --json experiments/results/backbone_sweep.json
    python -m experiments.backbone_sweep --table-only --json experiments/results/backbone_sweep.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from training.backbones import build_feature_backbone
from training.baselines import NearestNeighbourBaseline
from training.config import TrainConfig
from training.cras.model import CrasModel, ModelSpec
from training.data.datasets import load_tiles
from training.evaluate import metrics_by_class
from training.features import cached_features
from training.testing import make_model
from training.trainer import fit_statistics

TABLE_KEYS = (("image_auroc", "I-AUROC"), ("pixel_auroc", "P-AUROC"), ("pro", "PRO"))
AITEX_CLASSES = ("00", "02", "03", "05")
# The tile geometry `station train` uses unless told otherwise.
TRAIN_DEFAULTS = {
    key: TrainConfig.model_fields[key].default for key in ("tile_px", "channels", "input_scale")
}


def feature_model(name: str, classes: tuple[str, ...], geometry: dict) -> tuple[CrasModel, str]:
    """An untrained CRAS model on backbone ``name`` with the training defaults' embedding.

    Returns:
        ``(model, backbone weights SHA-256)``.
    """
    backbone, digest = build_feature_backbone(name)
    spec = ModelSpec(
        backbone=name,
        classes=classes,
        tile_px=geometry["tile_px"],
        in_channels=geometry["channels"],
        input_scale=geometry["input_scale"],
    )
    return CrasModel(spec, backbone).eval(), digest


def measure_backbone(
    name: str,
    data: Path,
    *,
    layout: str = "aitex",
    classes: tuple[str, ...] = AITEX_CLASSES,
    bank_fraction: float = 0.05,
    cache_dir: Path | None = None,
    tile_px: int | None = None,
    train_stride: int = 1,
    progress: bool = True,
) -> dict:
    """Nearest-neighbour metrics of one backbone's standardised features on the test split.

    ``train_stride`` k > 1 keeps every k-th training tile (statistics and bank
    from fewer tiles, for a quicker run on a busy CPU); the test split is always whole.

    Returns:
        ``{"backbone", "mean", "per_class", "bank_vectors", "feature_seconds",
        "search_seconds", ...}`` (metrics as fractions, as ``metrics_by_class`` gives them).
    """
    geometry = TRAIN_DEFAULTS | ({"tile_px": tile_px} if tile_px else {})
    splits = {}
    for split in ("train", "test"):
        splits[split] = load_tiles(
            data,
            layout=layout,
            split=split,
            classes=list(classes),
            tile_px=geometry["tile_px"],
            channels=geometry["channels"],
            progress=progress,
        )
    if train_stride > 1:
        keep = np.zeros(len(splits["train"]), dtype=bool)
        keep[::train_stride] = True
        splits["train"] = splits["train"].subset(keep)
    model, digest = feature_model(name, splits["train"].classes, geometry)
    started = time.perf_counter()
    raw = {
        split: cached_features(
            model,
            tiles,
            weights_sha256=digest,
            cache_dir=cache_dir,
            desc=f"{name} {split} features",
            progress=progress,
        )
        for split, tiles in splits.items()
    }
    feature_seconds = time.perf_counter() - started
    fit_statistics(model, raw["train"], torch.from_numpy(splits["train"].class_index))
    baseline = NearestNeighbourBaseline.from_features(
        model.standardise(raw["train"]),
        tile_px=model.spec.tile_px,
        grid_px=model.spec.grid_px,
        bank_fraction=bank_fraction,
    )
    started = time.perf_counter()
    scored = baseline.score(model.standardise(raw["test"]), progress=progress)
    search_seconds = time.perf_counter() - started
    metrics = metrics_by_class(splits["test"], scored)
    return dict(
        metrics,
        backbone=name,
        bank_fraction=bank_fraction,
        train_stride=train_stride,
        bank_vectors=len(baseline.bank),
        train_tiles=len(splits["train"]),
        test_tiles=len(splits["test"]),
        feature_seconds=round(feature_seconds, 1),
        search_seconds=round(search_seconds, 1),
    )


def model_speeds(
    names: list[str], *, tile_px: int = 256, batch: int = 8, threads: int = 2, repeats: int = 10
) -> dict[str, dict]:
    """Tiles/s of a whole CRAS model per backbone on the CPU (median of ``repeats`` calls).

    The backbones take turns call by call, so a change in the load from other
    processes during the run falls on all of them alike.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        models = {
            name: make_model(classes=("a", "b"), tile_px=tile_px, backbone=name)[0]
            for name in names
        }
        tiles = torch.from_numpy(
            np.random.default_rng(0).integers(0, 256, (batch, tile_px, tile_px, 1), dtype=np.uint8)
        )
        times: dict[str, list[float]] = {name: [] for name in names}
        with torch.no_grad():
            for call in range(repeats + 2):
                for name, model in models.items():
                    started = time.perf_counter()
                    model(tiles)
                    if call >= 2:  # two untimed warm-up calls
                        times[name].append(time.perf_counter() - started)
    finally:
        torch.set_num_threads(previous)
    return {
        name: {
            "batch": batch,
            "threads": threads,
            "tile_px": tile_px,
            "repeats": repeats,
            "tiles_per_s": batch / statistics.median(calls),
        }
        for name, calls in times.items()
    }


def format_results(results: list[dict]) -> str:
    """Markdown table: per backbone, I-AUROC / P-AUROC / PRO per class and mean, and speed."""
    classes = sorted({c for r in results for c in r.get("per_class", {})})
    header = ["backbone", "class", *(label for _, label in TABLE_KEYS)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for result in (r for r in results if "mean" in r):
        rows = [(c, result["per_class"][c]) for c in classes if c in result["per_class"]]
        rows.append(("**mean**", result["mean"]))
        for label, figures in rows:
            cells = [
                "-" if np.isnan(figures[key]) else f"{100 * figures[key]:.1f}"
                for key, _ in TABLE_KEYS
            ]
            lines.append(f"| {result['backbone']} | {label} | " + " | ".join(cells) + " |")
    speeds = [r for r in results if "speed" in r]
    if speeds:
        lines += ["", "| backbone | tiles/s (CPU) | features s | search s |", "|---|---|---|---|"]
        for result in speeds:
            speed = result["speed"]
            lines.append(
                f"| {result['backbone']} | {speed['tiles_per_s']:.1f} "
                f"(batch {speed['batch']}, {speed['threads']} threads) | "
                f"{result.get('feature_seconds', '-')} | {result.get('search_seconds', '-')} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("CRAS_AITEX_DIR", "../shared/datasets/aitex")),
        help="AITEX folder (default $CRAS_AITEX_DIR or ../shared/datasets/aitex)",
    )
    parser.add_argument("--layout", default="aitex", choices=["aitex", "mvtec", "folder"])
    parser.add_argument("--classes", default=",".join(AITEX_CLASSES), help="comma list")
    parser.add_argument(
        "--backbones", default="efficientnet_lite0,efficientnet_lite1,efficientnet_lite2"
    )
    parser.add_argument("--bank-fraction", type=float, default=0.05)
    parser.add_argument(
        "--train-stride", type=int, default=1, help="use every k-th training tile (default 1)"
    )
    parser.add_argument("--cache-dir", type=Path, help="feature cache folder")
    parser.add_argument(
        "--tile-px", type=int, default=TRAIN_DEFAULTS["tile_px"], help="tile side S"
    )
    parser.add_argument("--batch", type=int, default=8, help="batch of the speed measurement")
    parser.add_argument("--repeats", type=int, default=10, help="timed calls of the speed run")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads of all torch work")
    parser.add_argument("--skip-quality", action="store_true", help="speed only")
    parser.add_argument("--skip-speed", action="store_true", help="quality only")
    parser.add_argument("--json", type=Path, help="write (or with --table-only read) results")
    parser.add_argument("--table-only", action="store_true", help="print the table of --json")
    args = parser.parse_args(argv)
    if args.table_only:
        print(format_results(json.loads(args.json.read_text())["results"]))
        return 0
    torch.set_num_threads(args.threads)
    names = args.backbones.split(",")
    results: list[dict] = []

    def save() -> None:  # after every step, so a long run keeps what it has
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            document = {"command": vars(args) | {"data": str(args.data)}, "results": results}
            args.json.write_text(json.dumps(document, indent=1, default=str))

    for name in names:
        result: dict = {"backbone": name}
        if not args.skip_quality:
            result = measure_backbone(
                name,
                args.data,
                layout=args.layout,
                classes=tuple(args.classes.split(",")),
                bank_fraction=args.bank_fraction,
                cache_dir=args.cache_dir,
                tile_px=args.tile_px,
                train_stride=args.train_stride,
            )
        results.append(result)
        save()
    if not args.skip_speed:
        speeds = model_speeds(
            names,
            tile_px=args.tile_px,
            batch=args.batch,
            threads=args.threads,
            repeats=args.repeats,
        )
        for result in results:
            result["speed"] = speeds[result["backbone"]]
        save()
    print(format_results(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``station evaluate``: detection metrics of one or more models on a labelled split."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from station.cli.train_command import split_classes
from training.errors import UnknownClassError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="measure a model's detection quality on a labelled split",
        description=(
            "Score a split (default: test) with a trained model and print per-class and mean "
            "tile I-AUROC, I-AP, pixel P-AUROC, P-AP, PRO (AUPRO to 30%% FPR) and F1-max. "
            "Other models (--compare) and the nearest-neighbour baseline (--nearest-neighbour) "
            "are scored on the same tiles and the same backbone features in the same run."
        ),
    )
    parser.add_argument(
        "--model", type=Path, required=True, help="model folder from `station train`"
    )
    parser.add_argument("--data", type=Path, required=True, help="data folder")
    parser.add_argument("--layout", choices=["aitex", "mvtec", "folder"], default="aitex")
    parser.add_argument("--split", choices=["train", "val", "test"], default="test")
    parser.add_argument(
        "--classes", type=split_classes, help="classes to evaluate (default: the model's)"
    )
    parser.add_argument("--json", type=Path, help="write the metrics as JSON here")
    parser.add_argument("--maps", type=Path, help="save anomaly-map images of the top tiles here")
    parser.add_argument(
        "--compare", type=Path, nargs="*", default=[], help="more model folders to score alongside"
    )
    parser.add_argument(
        "--nearest-neighbour",
        action="store_true",
        help="add the nearest-neighbour patch-distance baseline",
    )
    parser.add_argument(
        "--nn-bank-fraction",
        type=float,
        default=0.05,
        help="fraction of training patches in its memory bank (default 0.05)",
    )
    parser.add_argument("--cache-dir", type=Path, help="feature cache folder (default MODEL/cache)")
    parser.add_argument(
        "--device", default="cpu", help="where to score: cpu (default), cuda or cuda:N"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from training.calibration import merge_gap_px
    from training.data.datasets import load_tiles
    from training.devices import resolve_device
    from training.evaluate import (
        false_alarms_per_metre,
        format_table,
        metrics_by_class,
        score_model,
        write_json,
        write_map_images,
    )
    from training.features import cached_features
    from training.model_file import load_model
    from training.trainer import _image_heights

    started = time.perf_counter()
    device = resolve_device(args.device)
    model, metadata = load_model(args.model)
    model.to(device)
    classes = args.classes or list(model.spec.classes)
    unknown = [c for c in classes if c not in model.spec.classes]
    if unknown:
        raise UnknownClassError(
            f"model {args.model} was not trained on class(es) {', '.join(unknown)}",
            hint=f"it knows: {', '.join(model.spec.classes)}",
        )
    spec = model.spec
    tiles = load_tiles(
        args.data,
        layout=args.layout,
        split=args.split,
        classes=classes,
        tile_px=spec.tile_px,
        channels=spec.in_channels,
    )
    cache_dir = args.cache_dir or args.model / "cache"
    sha = metadata.backbone_weights_sha256
    raw = cached_features(
        model, tiles, weights_sha256=sha, cache_dir=cache_dir, desc=f"{args.split} features"
    )
    scored, _ = score_model(model, tiles, raw_features=raw)
    result = metrics_by_class(tiles, scored)
    rows = {args.model.name: result["mean"]}
    extra = {}
    if metadata.calibration is not None and args.layout == "aitex" and args.split == "test":
        normal_items = {i for i, item in enumerate(tiles.items) if not item.is_defective}
        normal = np.isin(tiles.image_index, list(normal_items))
        metres = (
            sum(h for h in _image_heights(tiles.subset(normal)))
            * metadata.calibration.mm_per_px
            / 1000
        )
        extra["threshold"] = metadata.calibration.pixel_threshold
        extra["test_normal_metres"] = metres
        extra["false_alarms_per_m"] = false_alarms_per_metre(
            tiles.subset(normal),
            type(scored)(scored.tile_scores[normal], scored.maps[normal]),
            pixel_threshold=metadata.calibration.pixel_threshold,
            merge_gap_px=merge_gap_px(
                metadata.calibration.merge_gap_mm, metadata.calibration.mm_per_px
            ),
            metres=metres,
        )
    comparisons = {}
    for other_dir in args.compare:
        other, other_meta = load_model(other_dir)
        other.to(device)
        same_features = (
            other.spec.backbone,
            other.spec.tile_px,
            other.spec.input_scale,
            other.spec.dim,
        ) == (spec.backbone, spec.tile_px, spec.input_scale, spec.dim)
        other_raw = (
            raw
            if same_features
            else cached_features(
                other,
                tiles,
                weights_sha256=other_meta.backbone_weights_sha256,
                cache_dir=cache_dir,
                desc="features",
            )
        )
        comparisons[other_dir.name] = metrics_by_class(
            tiles, score_model(other, tiles, raw_features=other_raw)[0]
        )
        rows[other_dir.name] = comparisons[other_dir.name]["mean"]
    if args.nearest_neighbour:
        from training.baselines import NearestNeighbourBaseline

        train_tiles = load_tiles(
            args.data,
            layout=args.layout,
            split="train",
            classes=classes,
            tile_px=spec.tile_px,
            channels=spec.in_channels,
        )
        train_raw = cached_features(
            model, train_tiles, weights_sha256=sha, cache_dir=cache_dir, desc="train features"
        )
        baseline = NearestNeighbourBaseline.from_features(
            model.standardise(train_raw.to(device)),
            tile_px=spec.tile_px,
            grid_px=spec.grid_px,
            bank_fraction=args.nn_bank_fraction,
        )
        name = f"nearest-neighbour ({args.nn_bank_fraction:.0%} bank)"
        comparisons[name] = metrics_by_class(
            tiles, baseline.score(model.standardise(raw.to(device)))
        )
        comparisons[name]["bank_vectors"] = len(baseline.bank)
        rows[name] = comparisons[name]["mean"]
    defective = int(tiles.labels.sum())
    print(f"\n{args.split} split of {args.data}: {len(tiles)} tiles, {defective} defective (%)")
    print(format_table(rows))
    print("\nper class (" + args.model.name + ")")
    print(format_table(result["per_class"]))
    if "false_alarms_per_m" in extra:
        print(
            f"\nfalse alarms on test-normal fabric at threshold {extra['threshold']:.4f}: "
            f"{extra['false_alarms_per_m']:.2f}/m over {extra['test_normal_metres']:.2f} m"
        )
    print(f"({time.perf_counter() - started:.0f} s)")
    if args.maps:
        count = write_map_images(tiles, scored, args.maps)
        print(f"{count} anomaly-map images in {args.maps}")
    if args.json:
        write_json(
            dict(
                result,
                model=str(args.model),
                split=args.split,
                layout=args.layout,
                **extra,
                comparisons=comparisons,
            ),
            args.json,
        )
    return 0

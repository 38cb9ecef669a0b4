"""Training and CPU inference speed: cached features vs re-running the backbone.

Prints two tables:

1. Epoch time of CRAS training with the backbone features cached (what
   ``station train`` does) against the same epoch re-running the frozen
   backbone on every batch (what the authors' code does), on the same tiles,
   in the same run; the ratio is what caching saves.
2. CPU inference tiles/s of the whole model (uint8 tile in, anomaly map out)
   for both backbones. WideResNet-50-2's ImageNet weights cannot be had on
   this machine; its row uses random weights, which does not change speed.

Usage: python benchmarks/train.py [--tiles 96] [--batch 32] [--threads N]
       [--data ../shared/datasets/aitex]   (generated fabric when absent)
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import timm
import torch

from training.backbones import BACKBONES, FeatureBackbone, build_feature_backbone
from training.config import TrainConfig
from training.cras.model import CrasModel, ModelSpec
from training.data.fabric import GREY_PRESETS, render_fabric
from training.data.items import TileSet
from training.features import extract_features
from training.trainer import TrainingRun, fit_statistics, train_epoch


def load_benchmark_tiles(data: Path | None, count: int) -> TileSet:
    if data is not None and (data / "NODefect_images").is_dir():
        from training.data.datasets import load_tiles

        tiles = load_tiles(data, layout="aitex", split="train", progress=False)
        keep = np.random.default_rng(0).permutation(len(tiles))[:count]
        return tiles.subset(np.sort(keep))
    names = list(GREY_PRESETS)
    images = [
        render_fabric(GREY_PRESETS[names[i % len(names)]], height_px=256, width_px=256, seed=i)
        for i in range(count)
    ]
    return TileSet(
        tiles=np.stack(images)[..., None],
        masks=np.zeros((count, 256, 256), bool),
        class_index=np.arange(count) % len(names),
        classes=tuple(names),
        image_index=np.arange(count),
        boxes=np.zeros((count, 2), np.int64),
        fabric=np.ones((count, 256, 256), bool),
    )


def epoch_rerunning_backbone(run: TrainingRun, tiles: TileSet, class_index: torch.Tensor) -> float:
    """One epoch that recomputes backbone features batch by batch (no cache)."""
    started = time.perf_counter()
    order = torch.randperm(len(tiles), generator=run.generator)
    batch = run.config.batch_size
    for start in range(0, len(tiles), batch):
        chosen = order[start : start + batch].numpy()
        raw = run.model.embed_raw(torch.from_numpy(tiles.tiles[chosen])).half()
        # The same training step as a cached epoch, on features just computed.
        train_epoch(run, raw, class_index[chosen], 0, progress=False)
    return time.perf_counter() - started


def inference_rate(model: CrasModel, tiles: np.ndarray, *, batch: int, repeats: int = 3) -> float:
    with torch.inference_mode():
        model(torch.from_numpy(tiles[:batch]))  # warm-up
        started = time.perf_counter()
        done = 0
        for _ in range(repeats):
            for start in range(0, len(tiles), batch):
                model(torch.from_numpy(tiles[start : start + batch]))
                done += len(tiles[start : start + batch])
    return done / (time.perf_counter() - started)


def random_backbone(name: str) -> FeatureBackbone:
    classifier = timm.create_model(BACKBONES[name].timm_name, pretrained=False).eval()
    return FeatureBackbone(classifier, BACKBONES[name])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiles", type=int, default=96)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets/aitex"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    tiles = load_benchmark_tiles(args.data, args.tiles)
    machine = platform.processor() or platform.machine()
    print(
        f"machine: {machine}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}; {len(tiles)} tiles of 256 px"
    )

    config = TrainConfig(data=Path("."), batch_size=args.batch)
    backbone, _ = build_feature_backbone("efficientnet_lite0")
    spec = ModelSpec(backbone="efficientnet_lite0", classes=tiles.classes)
    model = CrasModel(spec, backbone)
    class_index = torch.from_numpy(tiles.class_index)
    started = time.perf_counter()
    raw = extract_features(model, tiles, progress=False)
    cache_cost = time.perf_counter() - started
    fit_statistics(model, raw, class_index)
    run = TrainingRun(config, model)
    train_epoch(run, raw, class_index, 1, progress=False)  # warm-up
    cached = min(train_epoch(run, raw, class_index, 1, progress=False).seconds for _ in range(2))
    rerun = min(epoch_rerunning_backbone(run, tiles, class_index) for _ in range(2))
    print(
        "\n1. one training epoch (efficientnet_lite0, D=384, "
        f"{config.positions_per_tile} positions/tile, batch {config.batch_size})"
    )
    print(f"{'variant':<34}{'s/epoch':>10}{'ratio':>8}")
    print(f"{'re-running the backbone':<34}{rerun:>10.2f}{1.0:>8.2f}")
    print(f"{'cached features (station train)':<34}{cached:>10.2f}{cached / rerun:>8.2f}")
    print(f"{'(one-off feature extraction)':<34}{cache_cost:>10.2f}")

    print("\n2. CPU inference, whole model, uint8 256x256 tile -> anomaly map")
    print(f"{'backbone':<22}{'weights':<16}{'batch':>6}{'tiles/s':>10}")
    for name in ("efficientnet_lite0", "wide_resnet50_2"):
        if name == "efficientnet_lite0":
            net, weights = backbone, "ImageNet"
        else:
            net, weights = random_backbone(name), "random (speed)"
        spec = ModelSpec(
            backbone=name,
            classes=tiles.classes,
            pre_dim=BACKBONES[name].default_dim,
            dim=BACKBONES[name].default_dim,
        )
        model = CrasModel(spec, net).eval()
        for batch in (1, 8):
            rate = inference_rate(model, tiles.tiles[: max(16, batch)], batch=batch, repeats=2)
            print(f"{name:<22}{weights:<16}{batch:>6}{rate:>10.2f}")


if __name__ == "__main__":
    main()

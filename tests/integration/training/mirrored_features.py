"""Experiment: backbone features of tiles mirrored by a margin, in the feature cache's format.

A measurement tool, not a test (docs/results.md, "An experiment: mirroring the tile
before the backbone"). Every tile is reflected by ``--margin`` px on each side before the
backbone, and the embedded map is cropped back to the tile's own grid, so no kept position
sees the backbone's zero padding. The files are written under the standard cache key of
the default model, so the unchanged ``station train`` and ``station evaluate`` with
``--cache-dir OUT`` train and score on them (the station's pipeline does not mirror: this
is an experiment, not a product setting; it costs ((S + 2 margin) / S)^2 the backbone work).

``python -m tests.integration.training.mirrored_features --data DIR --out runs/cache_mirror``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from tqdm import tqdm

from training.config import TrainConfig
from training.cras.model import CrasModel
from training.data.datasets import load_tiles
from training.data.items import TileSet
from training.features import feature_cache_path
from training.trainer import build_model, planted_validation_set


@torch.no_grad()
def mirrored_embedding(model: CrasModel, tiles: torch.Tensor, margin_px: int) -> torch.Tensor:
    """uint8 tiles [B, S, S, C] -> raw embedded features [B, N, D] of the mirrored tiles.

    ``margin_px`` must be a multiple of the feature stride; 0 gives ``model.embed_raw``.
    """
    stride = model.spec.tile_px // model.spec.grid_px
    if margin_px % stride:
        raise ValueError(f"margin {margin_px} px is not a multiple of the stride {stride} px")
    images = model.preprocess(tiles)
    if margin_px:
        images = F.pad(images, (margin_px,) * 4, mode="reflect")
    crop, grid = margin_px // stride, model.spec.grid_px
    embedded = model.embedding(model.backbone(images))  # [B, D, grid + 2 crop, ...]
    embedded = embedded[:, :, crop : crop + grid, crop : crop + grid]
    return embedded.flatten(2).transpose(1, 2)


def _write(model: CrasModel, tiles: TileSet, sha: str, out: Path, margin: int, desc: str) -> None:
    features = torch.empty(len(tiles), model.spec.positions, model.spec.dim, dtype=torch.float16)
    for start in tqdm(range(0, len(tiles), 16), desc=desc):
        batch = torch.from_numpy(tiles.tiles[start : start + 16])
        features[start : start + len(batch)] = mirrored_embedding(model, batch, margin).half()
    save_file(
        {"features": features}, str(feature_cache_path(out, model, tiles, weights_sha256=sha))
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="AITEX folder")
    parser.add_argument("--out", type=Path, required=True, help="cache folder to write")
    parser.add_argument("--margin", type=int, default=64, help="px mirrored on each side")
    args = parser.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    config = TrainConfig(data=args.data)
    splits = {s: load_tiles(args.data, layout="aitex", split=s) for s in ("train", "val", "test")}
    # the trainer's validation set, so that checkpoint choice sees mirrored features too
    splits["val with planted defects"] = planted_validation_set(config, splits["val"])
    model, sha = build_model(config, list(splits["train"].classes))
    model.eval()
    for name, tiles in splits.items():
        _write(model, tiles, sha, args.out, args.margin, desc=name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

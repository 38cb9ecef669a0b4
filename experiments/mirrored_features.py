"""``python -m experiments.mirrored_features --data DIR --out runs/cache_mirror``

Experiment: backbone features of tiles seen with context around them, in the cache's format.

A measurement tool (docs/research/tile_context.md). Every tile gets ``--margin`` px of
context on each side before the backbone, and the embedded map is cropped back to the
tile's own grid, so no kept position sees the backbone's zero padding. ``--context
mirror`` reflects the tile itself; ``--context strip`` takes the fabric around the tile
in its own image (its neighbours on the web) and reflects only beyond the image border
(on AITEX's 256-px-high strips: real fabric left and right, mirrored above and below).
The files are written under the standard cache key of the default model, so the
unchanged ``station train`` and ``station evaluate`` with ``--cache-dir OUT`` train and
score on them (the station's pipeline does neither: this is an experiment, not a product
setting; it costs ((S + 2 margin) / S)^2 the backbone work).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from tqdm import tqdm

from training.config import TrainConfig
from training.cras.model import CrasModel
from training.data.datasets import load_tiles
from training.data.images import read_image
from training.data.items import TileSet
from training.features import feature_cache_path
from training.trainer import build_model, planted_validation_set


def _crop_stride(model: CrasModel, margin_px: int) -> int:
    """Grid cells in ``margin_px``; the margin must be a whole number of them."""
    if model.spec.scaled_px != model.spec.tile_px:
        raise ValueError("context windows need a model that sees tiles at their own scale")
    stride = model.spec.tile_px // model.spec.grid_px
    if margin_px % stride:
        raise ValueError(f"margin {margin_px} px is not a multiple of the stride {stride} px")
    return margin_px // stride


@torch.no_grad()
def _embed_cropped(model: CrasModel, images: torch.Tensor, margin_px: int) -> torch.Tensor:
    """Preprocessed windows [B, 3, S + 2m, S + 2m] -> raw features [B, N, D] of the tile."""
    crop, grid = _crop_stride(model, margin_px), model.spec.grid_px
    embedded = model.embedding(model.backbone(images))  # [B, D, grid + 2 crop, ...]
    embedded = embedded[:, :, crop : crop + grid, crop : crop + grid]
    return embedded.flatten(2).transpose(1, 2)


def mirrored_embedding(model: CrasModel, tiles: torch.Tensor, margin_px: int) -> torch.Tensor:
    """uint8 tiles [B, S, S, C] -> raw embedded features [B, N, D] of the mirrored tiles.

    ``margin_px`` must be a multiple of the feature stride; 0 gives ``model.embed_raw``.
    """
    _crop_stride(model, margin_px)
    images = model.preprocess(tiles)
    if margin_px:
        images = F.pad(images, (margin_px,) * 4, mode="reflect")
    return _embed_cropped(model, images, margin_px)


def window_embedding(model: CrasModel, windows: torch.Tensor, margin_px: int) -> torch.Tensor:
    """uint8 windows [B, S + 2m, S + 2m, C] -> raw embedded features [B, N, D] of their tiles."""
    return _embed_cropped(model, model.preprocess(windows), margin_px)


def strip_windows(tiles: TileSet, margin_px: int) -> np.ndarray:
    """uint8 [T, S + 2m, S + 2m, C]: each tile inside the image around it.

    The context is the tile's own image (reflected beyond its border, as ``mirror`` does);
    the tile's pixels are the TileSet's own, so planted validation defects stay in.
    """
    size = tiles.tiles.shape[1] + 2 * margin_px
    channels = tiles.tiles.shape[-1]
    windows = np.empty((len(tiles), size, size, channels), dtype=np.uint8)
    padded, padded_index = None, -1
    for number, (tile, image_index, (x, y)) in enumerate(
        zip(tiles.tiles, tiles.image_index, tiles.boxes, strict=True)
    ):
        if image_index != padded_index:  # tiles come image by image: read each once in a row
            image = read_image(tiles.items[image_index].path, channels=channels)
            image = image if image.ndim == 3 else image[..., None]
            padded = np.pad(image, ((margin_px,) * 2, (margin_px,) * 2, (0, 0)), mode="reflect")
            padded_index = image_index
        windows[number] = padded[y : y + size, x : x + size]
        windows[number, margin_px : size - margin_px, margin_px : size - margin_px] = tile
    return windows


def _write(
    model: CrasModel, tiles: TileSet, sha: str, out: Path, margin: int, context: str, desc: str
) -> None:
    features = torch.empty(len(tiles), model.spec.positions, model.spec.dim, dtype=torch.float16)
    for start in tqdm(range(0, len(tiles), 16), desc=desc):
        if context == "strip":
            windows = torch.from_numpy(
                strip_windows(tiles.subset(slice(start, start + 16)), margin)
            )
            batch = window_embedding(model, windows, margin)
        else:
            batch = mirrored_embedding(
                model, torch.from_numpy(tiles.tiles[start : start + 16]), margin
            )
        features[start : start + len(batch)] = batch.half()
    save_file(
        {"features": features}, str(feature_cache_path(out, model, tiles, weights_sha256=sha))
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--data", type=Path, required=True, help="AITEX folder")
    parser.add_argument("--out", type=Path, required=True, help="cache folder to write")
    parser.add_argument("--margin", type=int, default=64, help="px of context on each side")
    parser.add_argument(
        "--context",
        choices=("mirror", "strip"),
        default="mirror",
        help="mirror: reflect the tile; strip: the fabric around it in its image",
    )
    args = parser.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    config = TrainConfig(data=args.data)
    splits = {s: load_tiles(args.data, layout="aitex", split=s) for s in ("train", "val", "test")}
    # the trainer's validation set, so that checkpoint choice sees mirrored features too
    splits["val with planted defects"] = planted_validation_set(config, splits["val"])
    model, sha = build_model(config, list(splits["train"].classes))
    model.eval()
    for name, tiles in splits.items():
        _write(model, tiles, sha, args.out, args.margin, args.context, desc=name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

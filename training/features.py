"""Backbone features of a tile set, computed once and cached.

The backbone and the patch embedding are frozen, so their output for a
training tile never changes: computing it once (instead of every epoch, as
the authors' code does) makes an epoch cost only the adaptor and the
discriminator. Features are kept in fp16 ([T, N, D]; 0.8 MB per 256-px tile
at D = 384) in memory and, when a cache folder is given, on disk keyed by
everything that determines them, so a resumed or repeated run skips the
backbone entirely.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from training.cras.model import CrasModel
from training.data.items import TileSet
from training.devices import model_device

log = logging.getLogger(__name__)


def feature_cache_key(model: CrasModel, tiles: TileSet, *, weights_sha256: str) -> str:
    """Hash of the backbone, embedding, tile geometry and the exact tiles."""
    digest = hashlib.sha256()
    spec = model.spec
    digest.update(
        json.dumps(
            [
                spec.backbone,
                weights_sha256,
                spec.tile_px,
                spec.input_scale,
                spec.patch_size,
                spec.pre_dim,
                spec.dim,
                spec.in_channels,
            ],
        ).encode()
    )
    digest.update(np.ascontiguousarray(tiles.tiles).data)
    return digest.hexdigest()[:24]


def feature_cache_path(
    cache_dir: str | Path, model: CrasModel, tiles: TileSet, *, weights_sha256: str
) -> Path:
    """Where :func:`cached_features` keeps the features of these tiles for this model."""
    key = feature_cache_key(model, tiles, weights_sha256=weights_sha256)
    return Path(cache_dir) / f"features-{key}.safetensors"


def extract_features(
    model: CrasModel,
    tiles: TileSet,
    *,
    batch_size: int = 32,
    desc: str = "backbone features",
    progress: bool = True,
) -> torch.Tensor:
    """Raw embedded features of every tile, fp16 [T, N, D], on the CPU.

    The backbone runs wherever the model is; the features come back to the CPU
    (they are cached on disk and may not fit a GPU for large data sets).
    """
    device = model_device(model)
    out = torch.empty(len(tiles), model.spec.positions, model.spec.dim, dtype=torch.float16)
    with tqdm(total=len(tiles), desc=desc, unit="tile", disable=not progress) as bar:
        for start in range(0, len(tiles), batch_size):
            batch = torch.from_numpy(tiles.tiles[start : start + batch_size]).to(device)
            out[start : start + len(batch)] = model.embed_raw(batch).half().cpu()
            bar.update(len(batch))
    return out


def cached_features(
    model: CrasModel,
    tiles: TileSet,
    *,
    weights_sha256: str,
    cache_dir: Path | None,
    desc: str,
    progress: bool = True,
) -> torch.Tensor:
    """:func:`extract_features`, read from / written to ``cache_dir`` when given."""
    if cache_dir is None:
        return extract_features(model, tiles, desc=desc, progress=progress)
    path = feature_cache_path(cache_dir, model, tiles, weights_sha256=weights_sha256)
    if path.is_file():
        try:
            features = load_file(str(path))["features"]
            if features.shape == (len(tiles), model.spec.positions, model.spec.dim):
                log.info("%s: %d tiles from cache %s", desc, len(tiles), path.name)
                return features
        except Exception as error:  # a damaged cache file is recomputed, never fatal
            log.warning("ignoring unreadable feature cache %s: %s", path, error)
    features = extract_features(model, tiles, desc=desc, progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    save_file({"features": features}, str(partial))
    partial.replace(path)
    return features

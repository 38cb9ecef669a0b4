"""Helpers for the training tests: tiny seeded fabric tiles, fitted models, data folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from training.backbones import FeatureBackbone
from training.config import TrainConfig
from training.cras.model import CrasModel, ModelSpec
from training.data.fabric import GREY_PRESETS, preset, render_fabric
from training.testing import fabric_tiles
from training.trainer import fit_statistics

TILE_PX = 64
MVTEC_CLASSES = ("grey_twill", "dark_plain")
# AITEX roll folders and their fabric codes (../shared/datasets/README.md).
AITEX_ROLLS = {"00": "2311694-2040n7u", "02": "2306894-210033u"}


@torch.no_grad()
def fit_model(
    backbone: FeatureBackbone,
    *,
    tile_px: int = TILE_PX,
    in_channels: int = 1,
    input_scale: float = 1.0,
    classes: tuple[str, ...] = ("a", "b"),
    seed: int = 0,
) -> CrasModel:
    """A CRAS model with statistics, centers and BatchNorm running stats fitted on fabric.

    Untrained (no discriminator training), but nothing in it is zero or default,
    so save/load and forward tests see realistic tensors. Class k's center is
    built from tiles of ``GREY_PRESETS[k]`` (or the preset named like the class).
    """
    torch.manual_seed(seed)
    spec = ModelSpec(
        backbone="efficientnet_lite0",
        classes=classes,
        tile_px=tile_px,
        in_channels=in_channels,
        input_scale=input_scale,
    )
    model = CrasModel(spec, backbone)
    presets = [
        name if name in GREY_PRESETS else GREY_PRESETS[k % len(GREY_PRESETS)]
        for k, name in enumerate(classes)
    ]
    tiles = np.concatenate(
        [
            fabric_tiles(name, count=3, tile_px=tile_px, channels=in_channels, seed=seed + k)
            for k, name in enumerate(presets)
        ]
    )
    class_index = torch.arange(len(classes)).repeat_interleave(3)
    raw = model.embed_raw(torch.from_numpy(tiles))
    fit_statistics(model, raw, class_index)
    model.discriminator.train()
    features = model.adaptor(model.standardise(raw)).reshape(-1, spec.dim)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(3):
        model.discriminator(features + torch.randn(features.shape, generator=generator), features)
    return model.eval()


def tiny_train_config(data: Path, **overrides) -> TrainConfig:
    """Settings that learn on the ``mvtec_root`` fixture in about a second.

    noise_std 1.0 (instead of the default 0.25) makes the synthetic anomalies
    visible within the 12 optimiser steps this tiny run has; the trainer
    tests check that it does learn.
    """
    values = dict(
        data=data,
        layout="mvtec",
        tile_px=TILE_PX,
        batch_size=4,
        epochs=3,
        positions_per_tile=16,
        noise_std=1.0,
        eval_every=1,
        learn_check_epochs=3,
        seed=0,
    )
    values.update(overrides)
    return TrainConfig(**values)


def save_grey(path: Path, pixels: np.ndarray, *, mode: str = "L") -> None:
    """Save uint8 [H, W] as a PNG; mode "LA" adds an opaque alpha channel."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(pixels)
    if mode == "LA":
        image = image.convert("LA")
    image.save(path)


def write_aitex(
    root: Path,
    *,
    codes: tuple[str, ...] = ("00", "02"),
    normals: int = 20,
    height_px: int = 64,
    width_px: int = 256,
    seed: int = 0,
) -> Path:
    """Defect-free strips in the AITEX layout, named ``NNNN_000_FF.png``.

    Strip numbers interleave between fabrics (fabric k, strip n is number
    2n + k + 1) and are written in reverse order, so a loader that does not
    sort by name gets the split wrong.
    """
    for k, code in enumerate(codes):
        folder = root / "NODefect_images" / AITEX_ROLLS.get(code, f"roll-{code}")
        for n in reversed(range(normals)):
            strip = render_fabric(
                preset(GREY_PRESETS[k]),
                height_px=height_px,
                width_px=width_px,
                first_line=n * height_px,
                seed=seed + k,
            )
            save_grey(folder / f"{2 * n + k + 1:04d}_000_{code}.png", strip)
    (root / "Defect_images").mkdir(parents=True, exist_ok=True)
    (root / "Mask_images").mkdir(parents=True, exist_ok=True)
    return root


def rect_mask(
    height_px: int, width_px: int, box: tuple[int, int, int, int], *, value: int = 255
) -> np.ndarray:
    """uint8 [H, W] mask with ``value`` inside box (x0, y0, x1, y1), else 0."""
    mask = np.zeros((height_px, width_px), dtype=np.uint8)
    x0, y0, x1, y1 = box
    mask[y0:y1, x0:x1] = value
    return mask

"""Real, untrained CRAS model folders for tests and benchmarks (like ``numpy.testing``).

Public so that benchmarks and tests share one recipe; the product never imports it.

:func:`make_model_dir` builds the shipped model class on the real backbone
(EfficientNet-Lite0 with its ImageNet weights), fits what training would fit
without training: the feature statistics and the class centers from a few
generated fabric tiles per class, BatchNorm running statistics of a seeded
random discriminator from a few train-mode passes, and a made-up calibration
(thresholds at the median score of those tiles, so decisions split). The
result is saved with :func:`training.model_file.save_model` and loads like any
trained model. Scores are meaningless, which parity and contract tests do not mind.
"""

from __future__ import annotations

import atexit
import copy
import functools
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from training.backbones import FeatureBackbone, build_feature_backbone
from training.cras.center_matching import center_match_chunked
from training.cras.model import CrasModel, ModelSpec
from training.data.fabric import FABRIC_PRESETS, GREY_PRESETS, render_fabric
from training.model_file import Calibration, save_model

COLOUR_PRESETS = tuple(name for name in FABRIC_PRESETS if name not in GREY_PRESETS)
TILES_PER_CLASS = 6


@functools.lru_cache(maxsize=2)
def _cached_backbone(name: str) -> tuple[FeatureBackbone, str]:
    return build_feature_backbone(name)


def fabric_tiles(
    preset_name: str, *, count: int, tile_px: int = 64, channels: int = 1, seed: int = 0
) -> np.ndarray:
    """``count`` generated fabric tiles of one preset, uint8 [count, S, S, C]."""
    strip = render_fabric(
        FABRIC_PRESETS[preset_name],
        height_px=tile_px,
        width_px=tile_px * count,
        seed=seed,
        channels=channels,
    )
    if strip.ndim == 2:
        strip = strip[..., None]
    tiles = strip.reshape(tile_px, count, tile_px, channels).transpose(1, 0, 2, 3)
    return np.ascontiguousarray(tiles)


def class_presets(count: int, *, channels: int) -> list[str]:
    """One fabric preset per class (distinct while there are enough presets)."""
    names = GREY_PRESETS if channels == 1 else COLOUR_PRESETS or tuple(FABRIC_PRESETS)
    return [names[k % len(names)] for k in range(count)]


@torch.no_grad()
def make_model(
    *,
    classes: tuple[str, ...] = ("a", "b"),
    tile_px: int = 64,
    in_channels: int = 1,
    seed: int = 0,
    backbone: str = "efficientnet_lite0",
) -> tuple[CrasModel, str, np.ndarray]:
    """Build and fit an untrained model in memory.

    Returns:
        ``(model in eval mode, backbone weights SHA-256, tile scores of the fitting tiles)``.
    """
    feature_backbone, digest = _cached_backbone(backbone)
    spec = ModelSpec(backbone=backbone, classes=classes, tile_px=tile_px, in_channels=in_channels)
    torch.manual_seed(seed)
    model = CrasModel(spec, copy.deepcopy(feature_backbone)).eval()
    presets = class_presets(len(classes), channels=in_channels)
    tiles = np.concatenate(
        [
            fabric_tiles(
                name, count=TILES_PER_CLASS, tile_px=tile_px, channels=in_channels, seed=seed + k
            )
            for k, name in enumerate(presets)
        ]
    )
    labels = torch.arange(len(classes)).repeat_interleave(TILES_PER_CLASS)
    batch = torch.from_numpy(tiles)

    embedded = model.embed(batch)  # statistics still 0 / 1: raw embedding
    model.feature_mean.copy_(embedded.mean(dim=(0, 1)))
    model.feature_std.copy_(embedded.std(dim=(0, 1)).clamp_min(1e-6))
    adapted = model.adaptor(model.embed(batch))
    for k in range(len(classes)):
        model.centers[k].copy_(adapted[labels == k].mean(dim=0))

    recomposed, _ = center_match_chunked(adapted, model.centers[labels])
    noise = torch.Generator().manual_seed(seed)
    features = adapted.reshape(-1, spec.dim)
    centers = recomposed.reshape(-1, spec.dim)
    model.discriminator.train()
    batch_norms = [m for m in model.discriminator.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    for norm in batch_norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over the passes below
    for _ in range(3):
        jitter = 0.1 * torch.randn(features.shape, generator=noise)
        model.discriminator(features + jitter, centers)
    for norm in batch_norms:
        norm.momentum = 0.1
    model.eval()
    scores = model(batch).tile_score.numpy()
    return model, digest, scores


def make_model_dir(
    path: str | Path,
    *,
    classes: tuple[str, ...] = ("a", "b"),
    tile_px: int = 64,
    in_channels: int = 1,
    seed: int = 0,
    backbone: str = "efficientnet_lite0",
    calibrated: bool = True,
) -> Path:
    """Write an untrained but complete model folder (see the module docstring).

    Returns:
        ``path``.
    """
    model, digest, scores = make_model(
        classes=classes, tile_px=tile_px, in_channels=in_channels, seed=seed, backbone=backbone
    )
    threshold = float(np.median(scores))
    calibration = (
        Calibration(
            pixel_threshold=threshold,
            tile_threshold=threshold,
            target_false_alarms_per_m=1.0,
            achieved_false_alarms_per_m=1.0,
            tile_false_alarms_per_m=1.0,
            mm_per_px=0.1,
            validation_metres=1.0,
            validation_tiles=len(scores),
        )
        if calibrated
        else None
    )
    save_model(
        model,
        path,
        backbone_weights_sha256=digest,
        calibration=calibration,
        training={"note": "untrained test model from training/testing.py", "seed": seed},
    )
    return Path(path)


_SHARED_ROOT: Path | None = None


@functools.lru_cache(maxsize=8)
def shared_model_dir(
    *,
    classes: tuple[str, ...] = ("a", "b"),
    tile_px: int = 64,
    in_channels: int = 1,
    seed: int = 0,
) -> Path:
    """A model folder made once per test process and shared by every test that reads it.

    Treat it as read-only: copy it (``shutil.copytree``) before adding files to it.
    """
    global _SHARED_ROOT
    if _SHARED_ROOT is None:
        _SHARED_ROOT = Path(tempfile.mkdtemp(prefix="cras-test-models-"))
        atexit.register(shutil.rmtree, _SHARED_ROOT, ignore_errors=True)
    name = f"{'-'.join(classes)}_{tile_px}px_{in_channels}ch_seed{seed}"
    return make_model_dir(
        _SHARED_ROOT / name, classes=classes, tile_px=tile_px, in_channels=in_channels, seed=seed
    )

"""A transparent stand-in for the model, for the geometry test only.

It scores a pixel 1.0 where it is darker than ``DARK_LEVEL`` and 0.0
elsewhere, so a test that paints dark rectangles into fabric knows the exact
anomaly map and can check positions to the pixel through the whole pipeline
(tiling, overlap blending, stitching across tile rows and blocks, web edges,
mm conversion, store). Detection by the real model is tested elsewhere with
the real model; nothing in the product uses this class.
"""

from __future__ import annotations

import numpy as np

from engines.backends.base import BackendInfo, InferenceBackend, InferenceResult

DARK_LEVEL = 50  # generated grey twill never goes below ~67


class DarkPixelBackend(InferenceBackend):
    """Anomaly map = (pixel < DARK_LEVEL), for uint8 [B, S, S, 1] tiles."""

    def __init__(self, *, tile_px: int, model_hash: str, classes: tuple[str, ...]) -> None:
        self.info = BackendInfo(
            name="dark-pixel-rule",
            device="cpu",
            precision="fp32",
            model_hash=model_hash,
            classes=classes,
            tile_px=tile_px,
            in_channels=1,
            max_batch=64,
        )
        self.calls = 0

    def _infer(self, tiles: np.ndarray) -> InferenceResult:
        self.calls += 1
        maps = (tiles[..., 0] < DARK_LEVEL).astype(np.float32)
        grid = maps[:, ::8, ::8]
        return InferenceResult(
            tile_score=maps.reshape(len(maps), -1).max(axis=1),
            score_grid=grid,
            anomaly_map=maps,
            matched_class=np.zeros(len(maps), np.int64),
        )

"""A defect's crop and heatmap as PNG bytes (what QA sees in the gallery)."""

from __future__ import annotations

import cv2
import numpy as np


def _encode_png(image: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".png", image)
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 image
        raise RuntimeError("OpenCV could not encode a PNG")
    return buffer.tobytes()


def _fit(image: np.ndarray, max_side_px: int, interpolation: int) -> np.ndarray:
    height, width = image.shape[:2]
    scale = max_side_px / max(height, width)
    if scale >= 1:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=interpolation)


def crop_png(pixels: np.ndarray, *, max_side_px: int) -> bytes:
    """PNG of a web region.

    Args:
        pixels: uint8 [h, w] grey or [h, w, 3] RGB.
        max_side_px: Longer sides are scaled down to this.
    """
    image = pixels if pixels.ndim == 2 else cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    return _encode_png(_fit(image, max_side_px, cv2.INTER_AREA))


def heatmap_png(
    pixels: np.ndarray, scores: np.ndarray, *, threshold: float, max_side_px: int
) -> bytes:
    """PNG of the anomaly scores over the region, blended onto its pixels.

    The colour scale runs from 0 to twice the threshold (the threshold is the
    middle, green-yellow in the JET map), so heatmaps of different defects compare.

    Args:
        pixels: uint8 [h, w] or [h, w, 3].
        scores: float32 [h, w] stitched anomaly scores.
        threshold: The detection threshold in use.
        max_side_px: Longer sides are scaled down to this.
    """
    level = np.clip(scores / (2.0 * threshold), 0.0, 1.0)
    colours = cv2.applyColorMap((level * 255).astype(np.uint8), cv2.COLORMAP_JET)
    grey = pixels if pixels.ndim == 2 else cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    base = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    blended = cv2.addWeighted(base, 0.45, colours, 0.55, 0.0)
    return _encode_png(_fit(blended, max_side_px, cv2.INTER_AREA))

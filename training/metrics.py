"""Anomaly-detection metrics: AUROC, average precision, F1-max and PRO (AUPRO).

All exact (no score binning) except PRO, which is integrated over a fine grid
of false-positive rates. Scores: higher means more anomalous. Labels: 1 =
anomalous. Written in numpy so that tens of millions of pixels fit in memory
(float32 scores, bool labels).
"""

from __future__ import annotations

import cv2
import numpy as np

PRO_MAX_FPR = 0.3
PRO_STEPS = 300


def _sorted_counts(scores: np.ndarray, labels: np.ndarray):
    """Cumulative true/false positives at each distinct threshold, descending."""
    scores = np.asarray(scores, dtype=np.float32).ravel()
    labels = np.asarray(labels, dtype=bool).ravel()
    order = np.argsort(-scores, kind="stable")
    scores, labels = scores[order], labels[order]
    distinct = np.r_[np.nonzero(np.diff(scores))[0], scores.size - 1]
    tp = np.cumsum(labels, dtype=np.int64)[distinct]
    fp = (distinct + 1) - tp
    return tp, fp, int(labels.sum()), int(labels.size - labels.sum())


def _require_both(positives: int, negatives: int) -> bool:
    return positives > 0 and negatives > 0


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve; NaN when only one class is present."""
    tp, fp, positives, negatives = _sorted_counts(scores, labels)
    if not _require_both(positives, negatives):
        return float("nan")
    tpr = np.r_[0.0, tp / positives]
    fpr = np.r_[0.0, fp / negatives]
    return float(np.trapezoid(tpr, fpr))


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """Average precision (step-wise area under precision-recall, as scikit-learn)."""
    tp, fp, positives, negatives = _sorted_counts(scores, labels)
    if not _require_both(positives, negatives):
        return float("nan")
    precision = tp / (tp + fp)
    recall = tp / positives
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def f1_max(scores: np.ndarray, labels: np.ndarray) -> float:
    """Best F1 over all thresholds."""
    tp, fp, positives, negatives = _sorted_counts(scores, labels)
    if not _require_both(positives, negatives):
        return float("nan")
    f1 = 2 * tp / (tp + fp + positives)
    return float(f1.max())


def pro_score(
    maps: np.ndarray,
    masks: np.ndarray,
    *,
    valid: np.ndarray | None = None,
    max_fpr: float = PRO_MAX_FPR,
    steps: int = PRO_STEPS,
) -> float:
    """Normalised area under the per-region-overlap curve up to ``max_fpr`` (AUPRO).

    Regions are the 8-connected components of each tile's ground-truth mask.
    For each false-positive rate f on the normal pixels, the threshold is the
    (1 - f) quantile of the normal pixels' scores and the PRO is the mean,
    over regions, of the fraction of the region's pixels above it.

    Args:
        maps: float [T, S, S] anomaly maps.
        masks: bool [T, S, S] ground truth.
        valid: bool [T, S, S] pixels to evaluate (e.g. fabric only); default all.

    Returns:
        AUPRO in [0, 1], NaN without defect regions.
    """
    valid = np.ones(masks.shape, dtype=bool) if valid is None else valid
    normal_scores = maps[valid & ~masks].astype(np.float32)
    regions = []
    for tile_map, tile_mask, tile_valid in zip(maps, masks, valid, strict=True):
        region_mask = tile_mask & tile_valid
        if not region_mask.any():
            continue
        count, labelled = cv2.connectedComponents(region_mask.astype(np.uint8), connectivity=8)
        for region in range(1, count):
            regions.append(np.sort(tile_map[labelled == region].astype(np.float32)))
    if not regions or normal_scores.size == 0:
        return float("nan")
    fprs = np.linspace(0.0, max_fpr, steps + 1)
    thresholds = np.quantile(normal_scores, 1.0 - fprs)
    overlaps = np.zeros_like(fprs)
    for region_scores in regions:
        above = region_scores.size - np.searchsorted(region_scores, thresholds, side="right")
        overlaps += above / region_scores.size
    overlaps /= len(regions)
    return float(np.trapezoid(overlaps, fprs) / max_fpr)


def detection_metrics(
    tile_scores: np.ndarray,
    tile_labels: np.ndarray,
    maps: np.ndarray,
    masks: np.ndarray,
    *,
    valid: np.ndarray | None = None,
) -> dict[str, float]:
    """The standard set, as fractions in [0, 1].

    Returns:
        ``image_auroc``, ``image_ap``, ``pixel_auroc``, ``pixel_ap``, ``pro``, ``f1_max``
        (image-level F1-max).
    """
    valid = np.ones(masks.shape, dtype=bool) if valid is None else valid
    pixel_scores = maps[valid]
    pixel_labels = masks[valid]
    return {
        "image_auroc": auroc(tile_scores, tile_labels),
        "image_ap": average_precision(tile_scores, tile_labels),
        "pixel_auroc": auroc(pixel_scores, pixel_labels),
        "pixel_ap": average_precision(pixel_scores, pixel_labels),
        "pro": pro_score(maps, masks, valid=valid),
        "f1_max": f1_max(tile_scores, tile_labels),
    }

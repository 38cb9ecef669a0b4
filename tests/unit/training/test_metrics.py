"""Detection metrics against scikit-learn, and PRO on hand-worked examples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

from training.metrics import auroc, average_precision, detection_metrics, f1_max, pro_score


def _scored(seed: int, size: int, *, decimals: int) -> tuple[np.ndarray, np.ndarray]:
    """Random labels and scores that lean towards the labels, rounded to create ties."""
    rng = np.random.default_rng(seed)
    labels = rng.random(size) < 0.3
    scores = np.round(rng.normal(size=size) + 0.8 * labels, decimals).astype(np.float32)
    return scores, labels


def _sklearn_f1_max(scores: np.ndarray, labels: np.ndarray) -> float:
    precision, recall, _ = precision_recall_curve(labels, scores)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0)
    return float(f1.max())


@pytest.mark.parametrize(("seed", "size", "decimals"), [(0, 1000, 1), (1, 37, 0), (2, 5001, 3)])
def test_against_scikit_learn_with_ties(seed: int, size: int, decimals: int) -> None:
    scores, labels = _scored(seed, size, decimals=decimals)
    assert len(np.unique(scores)) < size  # there are ties
    assert auroc(scores, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-9)
    assert average_precision(scores, labels) == pytest.approx(
        average_precision_score(labels, scores), abs=1e-9
    )
    assert f1_max(scores, labels) == pytest.approx(_sklearn_f1_max(scores, labels), abs=1e-9)


def test_perfect_inverted_and_single_class() -> None:
    labels = np.array([0, 0, 1, 1, 0, 1], dtype=bool)
    scores = labels.astype(np.float32) * 2 - 0.5
    assert auroc(scores, labels) == 1.0 and average_precision(scores, labels) == 1.0
    assert f1_max(scores, labels) == 1.0
    assert auroc(-scores, labels) == 0.0
    assert auroc(np.zeros(6, np.float32), labels) == 0.5  # one big tie
    for metric in (auroc, average_precision, f1_max):
        assert math.isnan(metric(scores, np.zeros(6, dtype=bool)))
        assert math.isnan(metric(scores, np.ones(6, dtype=bool)))


def _two_region_case() -> tuple[np.ndarray, np.ndarray]:
    """Two tiles of 100 x 100. Normal pixels score evenly over [0, 1).

    Region A (tile 0): two 3 x 3 blocks touching only at a corner, so ONE
    8-connected region, scoring 2.0: above every normal pixel -> overlap 1 at
    every false-positive rate. Region B (tile 1): a 5 x 5 block scoring 0.9:
    above the threshold once the FPR exceeds 10 % (10 % of normals score >= 0.9).
    """
    rng = np.random.default_rng(0)
    maps = rng.permutation(np.linspace(0, 1, 20000, endpoint=False)).reshape(2, 100, 100)
    masks = np.zeros((2, 100, 100), dtype=bool)
    masks[0, 10:13, 10:13] = True
    masks[0, 13:16, 13:16] = True
    masks[1, 50:55, 60:65] = True
    maps[0][masks[0]] = 2.0
    maps[1][masks[1]] = 0.9
    return maps.astype(np.float32), masks


def test_pro_on_a_hand_worked_example() -> None:
    maps, masks = _two_region_case()
    # Mean overlap is 0.5 for FPR < 0.1 and 1 above: area (0.5*0.1 + 1*0.2) / 0.3 = 5/6.
    assert pro_score(maps, masks) == pytest.approx(5 / 6, abs=0.01)
    # With max_fpr 0.1 region B is never found: (1 + 0) / 2.
    assert pro_score(maps, masks, max_fpr=0.1) == pytest.approx(0.5, abs=0.01)


def test_pro_counts_regions_not_pixels_and_honours_valid() -> None:
    maps, masks = _two_region_case()
    # Growing region B (still one region, all at 0.9) must not change the score ...
    bigger = masks.copy()
    bigger[1, 40:70, 40:70] = True
    maps_bigger = maps.copy()
    maps_bigger[1][bigger[1]] = 0.9
    assert pro_score(maps_bigger, bigger) == pytest.approx(5 / 6, abs=0.01)
    # ... and excluding region B's pixels from the valid area leaves region A alone: 1.0.
    valid = ~(masks & (np.arange(2) == 1)[:, None, None])
    assert pro_score(maps, masks, valid=valid) == pytest.approx(1.0, abs=1e-9)


def test_pro_is_one_for_a_perfect_map_and_nan_without_defects() -> None:
    rng = np.random.default_rng(3)
    masks = rng.random((3, 32, 32)) > 0.97
    maps = np.where(masks, 0.8, rng.random((3, 32, 32)) * 0.5).astype(np.float32)
    assert pro_score(maps, masks) == pytest.approx(1.0)
    assert math.isnan(pro_score(maps, np.zeros_like(masks)))


def test_detection_metrics_uses_only_valid_pixels() -> None:
    maps, masks = _two_region_case()
    valid = np.ones_like(masks)
    valid[:, :, :5] = False
    maps[:, :, :5] = 99.0  # a bright machine background that must not count
    figures = detection_metrics(np.array([0.2, 0.9]), np.array([0, 1]), maps, masks, valid=valid)
    assert set(figures) == {"image_auroc", "image_ap", "pixel_auroc", "pixel_ap", "pro", "f1_max"}
    assert figures["image_auroc"] == 1.0
    expected = roc_auc_score(masks[valid], maps[valid])
    assert figures["pixel_auroc"] == pytest.approx(expected, abs=1e-9)
    assert figures["pixel_auroc"] > 0.9

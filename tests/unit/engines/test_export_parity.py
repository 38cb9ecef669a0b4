"""Parity arithmetic (AUROC, tolerances, decisions) and the tiles a parity check runs on."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from engines.backends.base import BackendInfo, InferenceResult
from engines.errors import ExportError
from engines.parity import (
    TOLERANCES,
    compare_outputs,
    near_tie_fraction,
    tile_auroc,
    tolerance_for,
)
from engines.parity_tiles import (
    aitex_parity_tiles,
    collect_parity_tiles,
    find_aitex_dir,
    generated_parity_tiles,
)
from training.errors import DataError

INFO = BackendInfo(
    name="x", device="cpu", precision="fp32", model_hash="h", classes=("a",), tile_px=8,
    in_channels=1, max_batch=4,
)  # fmt: skip


def outputs(scores: np.ndarray, *, seed: int = 0) -> InferenceResult:
    rng = np.random.default_rng(seed)
    count = len(scores)
    grid = rng.random((count, 2, 2)).astype(np.float32)
    return InferenceResult(
        tile_score=scores.astype(np.float32),
        score_grid=grid,
        anomaly_map=np.repeat(np.repeat(grid, 32, axis=1), 32, axis=2),
        matched_class=np.zeros(count, dtype=np.int64),
    )


def compare(reference, candidate, labels, threshold=0.5, precision="fp32", pixel_threshold=None):
    return compare_outputs(
        reference,
        candidate,
        labels=labels,
        tile_threshold=threshold,
        pixel_threshold=pixel_threshold,
        tolerance=tolerance_for(precision),
        artefact="a.onnx",
        format_name="onnx",
        precision=precision,
        model_hash="h",
        backend=INFO,
        reference_backend=INFO,
        tile_source="test",
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tile_auroc_equals_sklearn_with_ties(seed) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 6, 200) / 5.0  # many ties
    labels = rng.integers(0, 2, 200)

    assert tile_auroc(scores, labels) == pytest.approx(roc_auc_score(labels, scores))


def test_tile_auroc_needs_both_labels() -> None:
    assert tile_auroc(np.array([0.1, 0.2]), np.array([1, 1])) is None


def test_identical_outputs_pass_with_full_agreement() -> None:
    rng = np.random.default_rng(3)
    reference = outputs(rng.random(64))
    labels = rng.integers(0, 2, 64)

    report = compare(reference, reference, labels)

    assert report.valid and report.failures == []
    assert report.tile_score.max_abs_diff == 0.0
    assert report.decisions["agreement"] == 1.0
    assert report.i_auroc["reference"] == report.i_auroc["artefact"]
    assert report.to_json_dict()["valid"] is True


def test_a_score_shift_beyond_tolerance_fails_with_the_reasons() -> None:
    rng = np.random.default_rng(4)
    scores = rng.random(200)
    reference = outputs(scores)
    shifted = reference._replace(
        tile_score=(scores + 0.002).astype(np.float32),
        anomaly_map=reference.anomaly_map + 0.002,
    )

    report = compare(reference, shifted, rng.integers(0, 2, 200))

    assert not report.valid
    text = " ".join(report.failures)
    assert "max |tile score diff|" in text and "mean |tile score diff|" in text
    assert "mean |anomaly map diff|" in text
    # The same shift is inside the fp16 tolerance.
    assert compare(reference, shifted, rng.integers(0, 2, 200), precision="fp16").valid


def test_decision_flips_are_counted_and_fail_below_the_agreement_bound() -> None:
    scores = np.linspace(0.0, 1.0, 100)
    reference = outputs(scores)
    # Two tiles just below the threshold move just above it (within the fp16 score tolerance).
    moved = scores.copy()
    moved[[48, 49]] = 0.501
    candidate = reference._replace(tile_score=moved.astype(np.float32))

    report = compare(reference, candidate, np.arange(100) % 2, precision="fp16")

    assert report.decisions["disagreeing_tiles"] == 2
    assert report.decisions["agreement"] == pytest.approx(0.98)
    assert any("decisions agree on 98.00%" in failure for failure in report.failures)


def test_one_deviating_patch_moves_the_map_max_but_not_the_verdict() -> None:
    """A center-matching near-tie changes one patch; only max |diff| of the map sees it."""
    rng = np.random.default_rng(6)
    reference = outputs(rng.random(32))
    anomaly_map = reference.anomaly_map.copy()
    anomaly_map[5, :4, :4] += 0.03  # one grid cell of one tile
    candidate = reference._replace(anomaly_map=anomaly_map)

    report = compare(reference, candidate, np.arange(32) % 2, pixel_threshold=0.5)

    assert report.anomaly_map.max_abs_diff == pytest.approx(0.03, abs=1e-6)
    assert report.valid, report.failures
    assert report.pixel_decisions["agreement"] > 0.999


def test_pixel_decisions_fail_when_the_map_moves_across_the_threshold() -> None:
    reference = outputs(np.linspace(0, 1, 16))
    candidate = reference._replace(anomaly_map=reference.anomaly_map + 0.05)

    report = compare(reference, candidate, np.arange(16) % 2, pixel_threshold=0.5)

    assert any("pixel decisions agree" in failure for failure in report.failures)


def test_nan_outputs_fail() -> None:
    reference = outputs(np.linspace(0, 1, 10))
    broken = reference._replace(tile_score=np.full(10, np.nan, dtype=np.float32))

    report = compare(reference, broken, np.arange(10) % 2)

    assert not report.valid and report.tile_score.max_abs_diff == float("inf")


def test_shape_mismatch_is_an_export_error() -> None:
    reference = outputs(np.linspace(0, 1, 10))
    with pytest.raises(ExportError, match="shape"):
        compare(reference, outputs(np.linspace(0, 1, 9)), np.arange(10) % 2)


def test_tolerances_are_stricter_for_fp32() -> None:
    fp32, fp16 = TOLERANCES["fp32"], TOLERANCES["fp16"]
    assert fp32.max_abs_tile_score < fp16.max_abs_tile_score
    assert fp32.min_decision_agreement >= fp16.min_decision_agreement
    with pytest.raises(ExportError):
        tolerance_for("int8")


def test_generated_tiles_are_seeded_and_half_defective() -> None:
    first = generated_parity_tiles(tile_px=64, in_channels=1, count=12, seed=3)
    again = generated_parity_tiles(tile_px=64, in_channels=1, count=12, seed=3)

    assert first.tiles.shape == (12, 64, 64, 1) and first.tiles.dtype == np.uint8
    np.testing.assert_array_equal(first.tiles, again.tiles)
    assert 4 <= first.labels.sum() <= 6
    assert "generated fabric" in first.source


def test_explicit_data_folder_that_is_not_aitex_is_an_error(tmp_path) -> None:
    with pytest.raises(DataError, match="is not an AITEX folder"):
        find_aitex_dir(tmp_path)


def test_aitex_tiles_are_labelled_from_the_masks(aitex_dir) -> None:
    tiles = aitex_parity_tiles(aitex_dir, tile_px=64, in_channels=1, count=16, seed=1)

    assert tiles.tiles.shape == (16, 64, 64, 1)
    assert tiles.labels.tolist() == [0] * 8 + [1] * 8
    assert str(aitex_dir) in tiles.source
    # Defective tiles differ from normal ones: at least they are not all identical crops.
    assert len({tile.tobytes() for tile in tiles.tiles}) == 16


def test_collect_prefers_real_tiles(aitex_dir) -> None:
    tiles = collect_parity_tiles(tile_px=64, in_channels=1, count=8, data_dir=aitex_dir)
    assert tiles.source.startswith("AITEX")


def test_near_tie_fraction_bounds_what_rounding_can_do_to_the_auroc() -> None:
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 400)
    # A saturated model: a third of the tiles at exactly 1.0, the rest spread below.
    scores = np.where(rng.random(400) < 0.33, 1.0, rng.random(400))
    delta = 1e-5
    moved = np.clip(scores + rng.uniform(-delta, delta, 400), 0.0, 1.0)
    change = abs(tile_auroc(scores, labels) - tile_auroc(moved, labels))
    bound = near_tie_fraction(scores, labels, within=2 * delta)
    assert 0.0 < change <= bound
    # Exact pair count on a small case: (0.5, 0.5) and (0.9, 0.9) are within 0.01, no other.
    assert near_tie_fraction(
        np.array([0.5, 0.9, 0.5, 0.9]), np.array([1, 1, 0, 0]), within=0.01
    ) == pytest.approx(2 / 4)


def test_saturated_scores_reordered_by_rounding_pass_with_the_near_tie_allowance() -> None:
    rng = np.random.default_rng(4)
    labels = np.arange(256) % 2
    scores = np.where(rng.random(256) < 0.3, 1.0, rng.random(256) * 0.999).astype(np.float32)
    reference = outputs(scores)
    # Rounding lowers the defective tiles' saturated scores a little: ties become losses.
    moved = np.where(labels == 1, scores - rng.uniform(1e-6, 8e-6, 256), scores)
    moved = moved.astype(np.float32)
    report = compare(reference, reference._replace(tile_score=moved), labels, precision="fp32")
    assert report.i_auroc["abs_diff"] > 0.002  # more than the plain fp32 limit
    assert report.i_auroc["near_tie_pairs"] >= report.i_auroc["abs_diff"]
    assert report.valid, report.failures

"""The demo roll on synthetic fabric scores what it found against what was planted.

The model is the untrained test model (its scores mean nothing), so this checks
the bookkeeping, not detection: the planted defects it compares with are the
ones the synthetic web really planted in the inspected stretch (recounted here
from a fresh web with the demo's seed), and every logged defect is counted once.
Detection on a trained model is what ``station demo`` shows (tests/integration/cli).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from station.pipeline.demo import SYNTHETIC_DEFECTS_PER_METRE, SYNTHETIC_SEED, run_demo_roll
from station.pipeline.planted_truth import format_truth_table
from training.public import FabricWeb, fabric_style_preset, read_metadata

ROLL_METRES = 0.3


def test_the_synthetic_demo_roll_compares_found_with_planted_defects(
    model_dir: Path, tmp_path: Path
) -> None:
    summary = run_demo_roll(
        model_dir, out_dir=tmp_path / "station", metres=ROLL_METRES, progress=False
    )

    assert summary.run.error is None
    truth = summary.truth
    assert truth is not None
    assert truth.metres == pytest.approx(summary.metres_inspected)
    assert truth.metres == pytest.approx(ROLL_METRES, abs=0.01)
    assert truth.found_defects == summary.defect_count > 0
    assert 0 <= truth.false_alarms <= truth.found_defects

    spec = read_metadata(model_dir).model_spec()
    mm_per_px = read_metadata(model_dir).calibration.mm_per_px
    web = FabricWeb(
        fabric_style_preset("grey_twill"),
        width_px=spec.tile_px * 4,
        seed=SYNTHETIC_SEED,
        defects_per_metre=SYNTHETIC_DEFECTS_PER_METRE,
        mm_per_px=mm_per_px,
        channels=spec.in_channels,
    )
    inspected_lines = round(summary.metres_inspected * 1000 / mm_per_px)
    planted = web.defects_before(inspected_lines)
    assert planted, "the demo's seed and rate must plant defects in the inspected stretch"
    assert truth.planted == len(planted)
    assert sorted(t.kind for t in truth.by_kind) == sorted({d.kind for d in planted})
    assert f"{'all':<16}{truth.planted:>8}{truth.found:>8}{truth.missed:>8}" in format_truth_table(
        truth
    )

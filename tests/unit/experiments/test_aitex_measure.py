"""``python -m experiments.aitex_measure``: the research wrapper prints the product's table."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.aitex_measure import main
from tests.helpers.aitex_like import FABRIC, write_aitex_like
from training.testing import make_model_dir


def test_aitex_measure_prints_the_defect_level_table_at_a_threshold_factor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = make_model_dir(tmp_path / "model", classes=(FABRIC,), tile_px=64, seed=3)
    aitex = write_aitex_like(tmp_path / "aitex")
    assert main([str(model), "--aitex", str(aitex), "--threshold-factor", "2"]) == 0
    printed = capsys.readouterr().out
    assert "(calibrated x 2)" in printed
    assert any(line.split()[:3] == ["total", "2", "0"] for line in printed.splitlines())
    assert "replay invariants (all 0, as they must be)" in printed

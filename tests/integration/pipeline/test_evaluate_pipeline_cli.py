"""``station evaluate --pipeline`` on a small folder in the AITEX layout, and its user errors.

The strips are generated fabric (fabric code 01: 17 defect-free strips, so the
test split holds one, and two defect strips with masks); the model is the real
untrained test model, whose scores mean nothing. So this checks the command:
it replays the test split through the pipeline, prints the table and writes the
JSON, and the replay invariants hold. Detection quality is the slow AITEX test's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from station.cli import EXIT_USER_ERROR, main
from station.pipeline.defect_evaluation import aitex_test_strips
from tests.helpers.aitex_like import LINES, write_aitex_like


@pytest.fixture(scope="module")
def aitex_like(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small folder in the AITEX layout (tests/helpers/aitex_like.py)."""
    return write_aitex_like(tmp_path_factory.mktemp("aitex-like"))


def test_evaluate_pipeline_prints_the_table_and_writes_the_json(
    model_dir: Path, aitex_like: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "defects.json"
    args = ["evaluate", "--pipeline", "--model", str(model_dir), "--data", str(aitex_like)]
    status = main([*args, "--classes", "01", "--json", str(out), "--overlap-px", "16"])
    printed = capsys.readouterr().out
    assert status == 0
    assert "replay invariants (all 0, as they must be)" in printed
    rows = [line.split() for line in printed.splitlines()]
    assert any(row[:2] == ["01", "2"] for row in rows)
    assert any(row[:2] == ["total", "2"] for row in rows)
    data = json.loads(out.read_text())
    total = data["total"]
    assert (total["defect_strips"], total["normal_strips"]) == (2, 1)
    assert total["found"] + total["missed"] == 2
    assert total["normal_metres"] == pytest.approx(LINES * data["mm_per_px"] / 1000)
    assert (total["across_boundary"], total["wider_than_web"], total["outside_web"]) == (0, 0, 0)
    assert data["overlap_px"] == 16 and data["metres_uninspected"] == 0
    assert sorted(s["name"] for s in data["strips"]) == [
        "0000_002_01",
        "0001_002_01",
        "0016_000_01",
    ]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "are not AITEX fabric codes"),
        (["--classes", "01", "--layout", "mvtec"], "does not take --layout mvtec"),
        (["--classes", "01", "--overlap-px", "64"], "does not fit the model's 64 px tiles"),
        (["--classes", "01", "--strips", "0"], "at least one strip is needed"),
    ],
)
def test_evaluate_pipeline_user_errors_are_one_message(
    model_dir: Path,
    aitex_like: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    args = ["evaluate", "--pipeline", "--model", str(model_dir), "--data", str(aitex_like)]
    assert main([*args, *extra]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_strip_limit_keeps_defect_and_defect_free_strips(aitex_like: Path) -> None:
    every = aitex_test_strips(aitex_like, ["01"])
    assert [bool(s.mask_paths) for s in every].count(True) == 2 and len(every) == 3
    two = aitex_test_strips(aitex_like, ["01"], limit=2)
    assert sorted(bool(s.mask_paths) for s in two) == [False, True]
    assert aitex_test_strips(aitex_like, ["01"], limit=10) == every

"""``station demo`` as a fresh machine without ../shared runs it: generated fabric.

The README's first command ends in ``station demo``; on a machine without the
AITEX data it trains on generated woven fabric, evaluates, and runs a short
roll through the real pipeline into SQLite. This runs exactly that path.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from station.cli import main


@pytest.mark.slow
def test_demo_on_generated_fabric_trains_evaluates_and_logs_a_roll(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo"
    status = main(["demo", "--data", "synthetic", "--out", str(out)])
    printed = capsys.readouterr().out
    assert status == 0, printed
    assert "Demo on generated fabric" in printed
    # The metrics table: the mean row has six figures in percent, clearly above chance.
    mean_row = next(line for line in printed.splitlines() if line.startswith("mean"))
    figures = [float(x) for x in re.findall(r"\d+\.\d", mean_row)]
    assert len(figures) == 6 and figures[0] > 60.0 and figures[2] > 60.0, mean_row
    assert re.search(r"Roll \S+: 0\.\d+ m inspected, 0\.00 m not inspected", printed), printed
    database = next((out / "station").rglob("*.sqlite3"))
    with sqlite3.connect(database) as connection:
        rolls = connection.execute("SELECT count(*) FROM rolls").fetchone()[0]
        defects = connection.execute("SELECT count(*) FROM defects").fetchone()[0]
    assert rolls == 1 and defects > 0

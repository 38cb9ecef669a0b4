"""``station demo`` as a fresh machine without ../shared runs it: generated fabric.

The README's first command ends in ``station demo``; on a machine without the
AITEX data it trains on generated woven fabric, evaluates, and runs a short
roll through the real pipeline into SQLite, then compares the defects it found
with the ones the synthetic web planted. This runs exactly that path.
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
    _check_truth_table(printed, logged_defects=defects)


def _check_truth_table(printed: str, *, logged_defects: int) -> None:
    """The hit/miss table adds up, and agrees with the roll line and the database."""
    lines = printed.splitlines()
    header = next(
        i for i, line in enumerate(lines) if line.split() == ["kind", "planted", "found", "missed"]
    )
    rows = []
    for line in lines[header + 1 :]:
        fields = line.split()
        if len(fields) != 4 or not all(field.isdigit() for field in fields[1:]):
            break
        rows.append((fields[0], *map(int, fields[1:])))
    *kinds, total = rows
    assert total[0] == "all" and kinds, printed
    assert total[1:] == tuple(sum(row[i] for row in kinds) for i in (1, 2, 3)), printed
    assert all(planted == found + missed and planted > 0 for _, planted, found, missed in rows)
    alarms = re.search(
        r"False alarms: (\d+) of (\d+) found defects overlap no planted defect, "
        r"(\d+\.\d) per metre \((\d\.\d\d) m inspected\)",
        printed,
    )
    assert alarms, printed
    false_alarms, found_defects = int(alarms[1]), int(alarms[2])
    rate, metres = float(alarms[3]), float(alarms[4])
    assert found_defects == logged_defects and false_alarms <= found_defects
    assert rate == pytest.approx(false_alarms / metres, abs=0.1)
    assert f"{metres:.2f} m inspected" in printed.split("Roll ", 1)[1].splitlines()[0]

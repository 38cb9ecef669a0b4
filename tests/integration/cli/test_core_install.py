"""A core install (``pip install cras-station``, no extras) runs ``station demo``.

Builds a fresh virtualenv in a temporary folder, installs a copy of the
checkout into it (not editable, no extras; pip's download cache is reused),
and runs the README's main job on generated fabric to the end: it trains,
evaluates, runs a short roll through the real pipeline into SQLite and compares
the defects found with the ones the synthetic web planted. This is what proves
that the core dependency list is complete, that nothing on the demo path needs
Qt, a camera driver or the GPU stack, and that the demo's own figures add up
(it is the suite's only run of ``station demo``).

The copy keeps setuptools' in-tree build folders out of the checkout.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
PRODUCT_PACKAGES = ("station", "training", "engines", "ui")
# Generous bounds for a loaded 2-core machine; the step that overruns is named.
INSTALL_TIMEOUT_S = 1200
DEMO_TIMEOUT_S = 1200
# Distributions that only extras bring; none may be in a core install.
EXTRA_ONLY_MODULES = ("PyQt6", "pyqtgraph", "harvesters", "genicam", "tensorrt", "pycuda")


def _copy_source(destination: Path) -> Path:
    """The files a wheel is built from: pyproject, README and the product packages."""
    destination.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO_ROOT / name, destination / name)
    for package in PRODUCT_PACKAGES:
        shutil.copytree(
            REPO_ROOT / package,
            destination / package,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
    return destination


def _clean_environment() -> dict[str, str]:
    """This process's environment without anything that points into the dev virtualenv."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"}
    }
    dev_bin = str(Path(sys.executable).parent)
    environment["PATH"] = os.pathsep.join(
        part for part in environment.get("PATH", "").split(os.pathsep) if part != dev_bin
    )
    return environment


def _run(command: list[str], *, timeout_s: int, step: str, cwd: Path) -> str:
    try:
        result = subprocess.run(
            command,
            cwd=cwd,
            env=_clean_environment(),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{step} did not finish within {timeout_s} s")
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{step} failed (exit {result.returncode}):\n{output[-4000:]}"
    return result.stdout


@pytest.mark.slow
def test_core_install_runs_the_demo_on_generated_fabric(tmp_path: Path) -> None:
    source = _copy_source(tmp_path / "source")
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "venv", str(venv)], timeout_s=120, step="venv", cwd=tmp_path)
    _run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-compile", str(source)],
        timeout_s=INSTALL_TIMEOUT_S,
        step="pip install (core, no extras)",
        cwd=tmp_path,
    )

    absent = _run(
        [
            str(python),
            "-c",
            "import importlib.util, sys; "
            "print(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))",
            *EXTRA_ONLY_MODULES,
        ],
        timeout_s=60,
        step="look for extra-only packages",
        cwd=tmp_path,
    )
    assert absent.split() == list(EXTRA_ONLY_MODULES), (
        f"a core install brought extra-only packages: only {absent.split()} are absent"
    )

    # The desktop apps need the ui extra: one line says so, no traceback.
    windows = subprocess.run(
        [str(venv / "bin" / "station-operator")],
        env=_clean_environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert windows.returncode != 0
    assert "pip install 'cras-station[ui]'" in windows.stderr, windows.stderr
    assert "Traceback" not in windows.stderr, windows.stderr

    out = tmp_path / "demo"
    printed = _run(
        [str(venv / "bin" / "station"), "demo", "--data", "synthetic", "--out", str(out)],
        timeout_s=DEMO_TIMEOUT_S,
        step="station demo --data synthetic",
        cwd=tmp_path,
    )
    assert "Demo on generated fabric" in printed
    # The metrics table: the mean row has six figures in percent, clearly above chance.
    mean_row = next((line for line in printed.splitlines() if line.startswith("mean")), "")
    figures = [float(x) for x in re.findall(r"\d+\.\d", mean_row)]
    assert len(figures) == 6 and figures[0] > 60.0 and figures[2] > 60.0, printed
    # The demo plays the web with ``when_behind: wait`` and drains at stop: nothing is lost.
    assert re.search(r"Roll \S+: 0\.\d+ m inspected, 0\.00 m not inspected", printed), printed
    assert "Demo finished in" in printed, printed
    database = next((out / "station").rglob("*.sqlite3"), None)
    assert database is not None, f"no roll database under {out}"
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

"""A core install (``pip install cras-station``, no extras) runs ``station demo``.

Builds a fresh virtualenv in a temporary folder, installs a copy of the
checkout into it (not editable, no extras; pip's download cache is reused),
and runs the README's main job on generated fabric to the end. This is what
proves that the core dependency list is complete, and that nothing on the demo
path needs Qt, a camera driver or the GPU stack.

The copy keeps setuptools' in-tree build folders out of the checkout.
"""

from __future__ import annotations

import os
import re
import shutil
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
    mean_row = next((line for line in printed.splitlines() if line.startswith("mean")), "")
    assert len(re.findall(r"\d+\.\d", mean_row)) == 6, printed
    # How much fabric a loaded machine leaves uninspected varies; that the roll ran does not.
    roll = re.search(r"Roll \S+: (\d+\.\d+) m inspected, \d+\.\d+ m not inspected", printed)
    assert roll and float(roll.group(1)) > 0.0, printed
    assert "Demo finished in" in printed, printed
    assert any((out / "station").rglob("*.sqlite3")), f"no roll database under {out}"

"""A real ``station run`` is SIGKILLed mid-roll and restarted with the same lot number.

The restarted station closes what the crash left running, from the last
durable coverage checkpoint, records the stretch it could not account for as
uninspected ("station stopped unexpectedly"), and continues the roll as a
second inspection run whose positions start where the first one ended.
"""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from station.cli import main
from station.store.config import StoreConfig
from station.store.engine import create_store_engine
from station.store.migrate import upgrade_database
from station.store.recovery_writes import STOPPED_UNEXPECTEDLY
from station.store.store import DefectStore
from tests.integration.pipeline.conftest import station_config
from tests.integration.pipeline.store_reading import read_roll
from tests.integration.store.conftest import fresh_pg_schema_url

REPO_ROOT = Path(__file__).resolve().parents[3]
LOT = "LOT-CRASH-17"
LINE_RATE_HZ = 100.0
LINES_PER_BLOCK = 64
MM_PER_LINE = 0.5
BLOCK_S = LINES_PER_BLOCK / LINE_RATE_HZ
BLOCK_MM = LINES_PER_BLOCK * MM_PER_LINE
BLOCKS_BEFORE_KILL = 6
ALARM = re.compile(r"ALARM \d-point defect at ([\d.]+) m")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def crash_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreConfig]:
    """A migrated store on SQLite or on a fresh schema of the real PostgreSQL."""

    def config(url: str) -> StoreConfig:
        engine = create_store_engine(url, create=True)
        upgrade_database(engine)
        engine.dispose()
        return StoreConfig(
            url=url,
            image_root=tmp_path / "images",
            journal_dir=tmp_path / "journal",
            flush_interval_s=0.01,
            fsync_images=False,
        )

    if request.param == "sqlite":
        yield config(f"sqlite:///{tmp_path / 'defects.sqlite3'}")
        return
    with fresh_pg_schema_url(request.getfixturevalue("postgres_url")) as url:
        yield config(url)


def _config_file(model_dir: Path, store: StoreConfig, tmp_path: Path) -> Path:
    """A paced synthetic web (one 32 mm block every 0.64 s), a checkpoint after every row."""
    config = station_config(
        model_dir,
        store,
        source={
            "kind": "synthetic",
            "synthetic": {
                "fabric_preset": "grey_twill",
                "width_px": 192,
                "seed": 4,
                "defects_per_metre": 30.0,
                "lines_per_block": LINES_PER_BLOCK,
                "line_rate_hz": LINE_RATE_HZ,
                "mm_per_px": MM_PER_LINE,
            },
        },
        model={"threshold_factor": 0.9},
        roll={"lot_number": LOT, "checkpoint_every_s": 0.01, "checkpoint_every_m": 0.001},
        alarm={"min_points": 1},  # every defect is logged as an ALARM line
    )
    path = tmp_path / "station.yaml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    return path


class _Station:
    """``station run`` as a child process, its stderr collected as it comes."""

    def __init__(self, *args: str) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "station", "run", *args],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.err: list[str] = []
        self._reader = threading.Thread(target=self._read_err, daemon=True)
        self._reader.start()

    def _read_err(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.err.append(line)

    def wait_until_inspecting(self) -> None:
        assert self.process.stdout is not None
        first = self.process.stdout.readline()
        assert "inspecting" in first, first + self.stderr()

    def finish(self, *, timeout_s: float) -> str:
        assert self.process.stdout is not None
        out = self.process.stdout.read()  # stderr is the reader thread's alone
        self.process.wait(timeout=timeout_s)
        self._reader.join(timeout=30)
        return out

    def stderr(self) -> str:
        return "".join(self.err)


@pytest.mark.slow
def test_sigkill_mid_roll_then_a_restart_with_the_same_lot_keeps_the_roll_whole(
    model_dir: Path, crash_store: StoreConfig, tmp_path: Path
) -> None:
    config_path = _config_file(model_dir, crash_store, tmp_path)
    crashed = _Station("--config", str(config_path), "--status-every-s", "0")
    try:
        crashed.wait_until_inspecting()
        started = time.monotonic()
        # Half a block after the 6th block: it has been inspected and checkpointed.
        time.sleep(max(0.0, started + (BLOCKS_BEFORE_KILL + 0.5) * BLOCK_S - time.monotonic()))
        os.kill(crashed.process.pid, signal.SIGKILL)
        blocks_acquired = math.floor((time.monotonic() - started) / BLOCK_S)
        crashed.finish(timeout_s=30)
    finally:
        if crashed.process.poll() is None:
            crashed.process.kill()
    assert crashed.process.returncode == -signal.SIGKILL
    alarms_mm = [float(m) * 1000 for m in ALARM.findall(crashed.stderr())]

    restarted = _Station("--config", str(config_path), "--max-seconds", "2")
    out = restarted.finish(timeout_s=180)
    assert restarted.process.returncode == 0, restarted.stderr()
    recovered = [line for line in restarted.err if "left running by a crash" in line]
    assert len(recovered) == 1 and f"roll {LOT} (" in recovered[0], restarted.stderr()

    with DefectStore.open(crash_store, with_writer=False) as store:
        roll_view = store.repository.get_roll(lot_number=LOT)  # one roll: it was continued
    roll, defects, events, runs = read_roll(crash_store, roll_view.key)
    assert roll.ended_at is not None and len(runs) == 2
    first, second = runs
    assert first.ended_at is not None and second.ended_at is not None

    # Inspected + uninspected = what was acquired before the kill, within one block.
    stretches = [e for e in events if e.kind == "uninspected_stretch"]
    first_stretches = [e for e in stretches if e.to_mm <= second.start_mm + 1e-6]
    lost = [e for e in first_stretches if STOPPED_UNEXPECTEDLY in e.details["reasons"]]
    assert len(lost) == 1, first_stretches
    assert lost[0].from_mm == pytest.approx(first.inspected_until_mm)
    assert lost[0].to_mm == pytest.approx(first.acquired_until_mm)
    accounted_mm = first.inspected_mm + sum(e.to_mm - e.from_mm for e in first_stretches)
    assert accounted_mm == pytest.approx(first.acquired_until_mm)
    assert abs(accounted_mm - blocks_acquired * BLOCK_MM) <= BLOCK_MM, (
        accounted_mm,
        blocks_acquired,
    )

    # The second run continues on the roll after the first; the roll's length adds up.
    assert second.start_mm == pytest.approx(first.acquired_until_mm)
    later = [e.from_mm for e in stretches if e not in first_stretches]
    assert min(later, default=math.inf) >= second.start_mm - 1e-6
    assert all(d.along_mm >= second.start_mm for d in defects if d.run_key == second.key)
    assert all(d.along_mm < second.start_mm for d in defects if d.run_key == first.key)
    assert roll.length_inspected_mm == pytest.approx(first.inspected_mm + second.inspected_mm)
    inspected_second_m = float(re.search(r"inspected\s+([\d.]+) m", out).group(1))
    assert second.inspected_mm == pytest.approx(inspected_second_m * 1000, abs=0.5)

    # Every defect reported before the last durable checkpoint is in the database.
    first_defects = [d.along_mm for d in defects if d.run_key == first.key]
    acknowledged = [mm for mm in alarms_mm if mm < first.inspected_until_mm - 1.0]
    assert acknowledged, "no defect was reported before the kill; the check would be empty"
    missing = [mm for mm in acknowledged if not any(abs(mm - d) <= 0.6 for d in first_defects)]
    assert not missing, f"defects reported before the crash are missing: {missing}"


def test_the_same_lot_continues_its_roll_unless_a_new_roll_is_asked_for(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    store = StoreConfig(
        url=f"sqlite:///{tmp_path / 'lots.sqlite3'}",
        image_root=tmp_path / "images",
        journal_dir=tmp_path / "journal",
        flush_interval_s=0.01,
        fsync_images=False,
    )
    engine = create_store_engine(store.url, create=True)
    upgrade_database(engine)
    engine.dispose()
    config_path = _config_file(model_dir, store, tmp_path)
    for extra in ([], [], ["--new-roll"]):
        assert main(["run", "--config", str(config_path), "--max-metres", "0.05", *extra]) == 0
    capsys.readouterr()
    with DefectStore.open(store, with_writer=False) as opened:
        rolls = opened.repository.list_rolls()
        runs = [len(opened.repository.list_runs(roll.key)) for roll in rolls]
    assert [roll.lot_number for roll in rolls] == [LOT, LOT]
    assert runs == [1, 2]  # newest first: the --new-roll one, then the continued one
    assert all(roll.ended_at is not None for roll in rolls)

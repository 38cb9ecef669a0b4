"""``station run``: headless, clean shutdown on SIGTERM/SIGINT, one clear message for bad config."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from station.cli import main
from station.store.config import StoreConfig
from tests.conftest import require
from tests.integration.acquisition.conftest import find_viky_cti
from tests.integration.pipeline.conftest import station_config
from tests.integration.pipeline.store_reading import read_roll

REPO_ROOT = Path(__file__).resolve().parents[3]


def _endless_synthetic(model_dir: Path, store: StoreConfig, tmp_path: Path, **extra) -> Path:
    """station.yaml for an endless synthetic web paced like a camera."""
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
                "lines_per_block": 64,
                "line_rate_hz": 1500.0,
                "mm_per_px": 0.1,
            },
        },
        model={"threshold_factor": 0.9},
        roll={"lot_number": "LOT-SIGTERM"},
        **extra,
    )
    path = tmp_path / "station.yaml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    return path


def _station(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "station", *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize(
    "signal_number", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"]
)
def test_signal_stops_cleanly_closes_the_roll_and_keeps_the_defects(
    model_dir: Path, store_config: StoreConfig, tmp_path: Path, signal_number: int
) -> None:
    config_path = _endless_synthetic(model_dir, store_config, tmp_path)
    process = _station("run", "--config", str(config_path), "--status-every-s", "0.5")
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert "inspecting" in first, first + (process.stderr.read() if process.poll() else "")
        time.sleep(3.0)  # ~4,500 lines at 1,500 lines/s
        process.send_signal(signal_number)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert f"{signal.Signals(signal_number).name} received: stopping" in err
    assert "lines/s" in err and "tiles/s" in err  # the periodic status line was logged
    count = int(re.search(r"defects\s+(\d+) \(", out).group(1))

    from station.store.store import DefectStore

    with DefectStore.open(store_config, with_writer=False) as store:
        roll_view = store.repository.get_roll(lot_number="LOT-SIGTERM")
    roll, defects, _, runs = read_roll(store_config, roll_view.key)
    assert roll.ended_at is not None and runs[0].ended_at is not None
    assert roll.length_inspected_mm > 100.0  # > 1,000 lines inspected before the signal
    assert len(defects) == count
    inspected = float(re.search(r"inspected\s+([\d.]+) m", out).group(1))
    assert roll.length_inspected_mm == pytest.approx(inspected * 1000, abs=0.5)


def test_max_metres_ends_the_run_by_itself(
    model_dir: Path, store_config: StoreConfig, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    config_path = _endless_synthetic(
        model_dir, store_config, tmp_path, pipeline={"when_behind": "wait"}
    )
    status = main(["run", "--config", str(config_path), "--max-metres", "0.1"])
    out = capsys.readouterr().out
    assert status == 0
    seen = float(re.search(r"web seen\s+([\d.]+) m", out).group(1))
    assert 0.1 <= seen < 0.2


def _run_with(tmp_path: Path, data: dict, capsys: pytest.CaptureFixture) -> tuple[int, str]:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    status = main(["run", "--config", str(path)])
    return status, capsys.readouterr().err


def test_bad_config_gives_one_message_naming_the_field(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    base = {
        "source": {"kind": "synthetic", "synthetic": {"fabric_preset": "denim"}},
        "model": {"path": str(model_dir)},
    }
    status, err = _run_with(tmp_path, {**base, "tilling": {"overlap_px": 8}}, capsys)
    assert status == 2 and "field `tilling`: unknown field" in err and "Traceback" not in err

    camera = {"kind": "camera", "camera": {"cti_path": str(tmp_path / "missing.cti")}}
    status, err = _run_with(tmp_path, {**base, "source": camera}, capsys)
    assert status == 2 and "field `source.camera.cti_path`" in err
    assert "install the camera vendor's GenTL producer" in err


def test_overlap_as_large_as_the_tile_is_refused_naming_the_field(
    model_dir: Path, store_config: StoreConfig, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    config_path = _endless_synthetic(model_dir, store_config, tmp_path, tiling={"overlap_px": 64})
    status = main(["run", "--config", str(config_path)])
    err = capsys.readouterr().err
    assert status == 2
    assert "tiling.overlap_px = 64 is not smaller than the model's tile size 64 px" in err
    assert "set tiling.overlap_px between 0 and 63" in err


def test_store_without_tables_says_which_command_creates_them(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    store = StoreConfig(url=f"sqlite:///{tmp_path / 'new.sqlite3'}", journal_dir=tmp_path / "j")
    config_path = _endless_synthetic(model_dir, store, tmp_path)
    status = main(["run", "--config", str(config_path)])
    err = capsys.readouterr().err
    assert status == 2 and "station db upgrade" in err


@pytest.fixture
def viky_cti() -> Path:
    """The genicam package's virtual camera producer (three devices, Mono8 or RGBa8)."""
    found = find_viky_cti()
    require(found is not None, "the genicam package's GenTL producer viky.cti")
    assert found is not None
    return found


def _camera_config(model_dir: Path, store: StoreConfig, tmp_path: Path, **camera) -> Path:
    config = station_config(
        model_dir,
        store,
        source={"kind": "camera", "camera": camera},
        geometry={"mm_per_px": 0.2},
    )
    path = tmp_path / "camera.yaml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    return path


@pytest.mark.camera
def test_camera_not_found_names_the_field_and_lists_the_devices(
    model_dir: Path,
    store_config: StoreConfig,
    tmp_path: Path,
    viky_cti: Path,
    capsys: pytest.CaptureFixture,
) -> None:
    path = _camera_config(model_dir, store_config, tmp_path, cti_path=str(viky_cti), device="42")
    status = main(["run", "--config", str(path)])
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err
    assert "source.camera.device: no device '42' among the 3 devices" in err
    assert "VikyTL_DEV_red" in err and "set source.camera.device to one of" in err


@pytest.mark.camera
def test_pixel_format_the_camera_does_not_offer_names_the_field(
    model_dir: Path,
    store_config: StoreConfig,
    tmp_path: Path,
    viky_cti: Path,
    capsys: pytest.CaptureFixture,
) -> None:
    path = _camera_config(
        model_dir,
        store_config,
        tmp_path,
        cti_path=str(viky_cti),
        device="VikyTL_DEV_red",
        pixel_format="BayerRG8",
    )
    status = main(["run", "--config", str(path)])
    err = capsys.readouterr().err
    assert status == 2
    assert "source.camera.pixel_format: the camera does not offer 'BayerRG8'" in err
    assert "Mono8" in err  # the hint lists what it offers


def _finish_within_seconds(config_path: Path, seconds: str) -> tuple[int, str, str]:
    process = _station(
        "run", "--config", str(config_path), "--max-seconds", seconds, "--status-every-s", "0.5"
    )
    try:
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    return process.returncode, out, err


def test_max_seconds_is_a_normal_stop(
    model_dir: Path, store_config: StoreConfig, tmp_path: Path
) -> None:
    config_path = _endless_synthetic(model_dir, store_config, tmp_path)
    status, out, err = _finish_within_seconds(config_path, "3")
    assert status == 0, err
    assert "--max-seconds 3.0 reached" in err
    assert "ERROR" not in err and "Traceback" not in err, err
    assert "Stretch(" not in out + err
    assert re.search(r"web seen\s+[\d.]+ m", out)


def test_stopping_a_replay_that_outruns_inference_is_clean_and_readable(
    model_dir: Path, store_config: StoreConfig, tmp_path: Path
) -> None:
    """An unpaced looping replay keeps the source queue full, so the stop meets a waiting
    producer (once logged as an overflow), and inference falls behind, so stretches are logged.
    """
    rng = np.random.default_rng(5)
    strip = tmp_path / "strip.png"
    cv2.imwrite(str(strip), (120 + rng.normal(0, 8, (640, 192))).clip(0, 255).astype(np.uint8))
    config = station_config(
        model_dir,
        store_config,
        source={
            "kind": "replay",
            "replay": {"paths": [str(strip)], "lines_per_block": 64, "loop": True},
        },
        geometry={"mm_per_px": 0.1},
        roll={"lot_number": "LOT-REPLAY-STOP"},
    )
    config_path = tmp_path / "replay.yaml"
    config_path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    status, out, err = _finish_within_seconds(config_path, "2")
    assert status == 0, err
    assert "ERROR" not in err and "Traceback" not in err, err
    assert "Stretch(" not in out + err
    logged = re.findall(r"uninspected stretch recorded: ([\d.]+)\u2013([\d.]+) mm \(", err)
    assert logged, err  # inference fell behind, so stretches were logged, readably
    assert all(float(low) < float(high) for low, high in logged)

"""``station capture``: good fabric from the configured source into a training set.

Real parts throughout: the synthetic and replay sources, the pipeline's web
assembler and web-edge rule, a real (untrained) model for ``--skip-defects``,
and ``station train`` on the captured folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from PIL import Image

from station.cli import EXIT_USER_ERROR, main
from tests.conftest import require
from tests.integration.acquisition.conftest import find_viky_cti
from training.public import (
    FabricWeb,
    background_mask,
    fabric_columns,
    fabric_style_preset,
    read_image,
)
from training.testing import make_model_dir

REPO_ROOT = Path(__file__).resolve().parents[3]
STRIP_LINES = 128
MM_PER_LINE = 0.5
STRIP_M = STRIP_LINES * MM_PER_LINE / 1000.0
WIDTH_PX = 192
# Two styles of the generator: fabric A and fabric B.
FABRICS = {"fabric_a": ("grey_twill", 11), "fabric_b": ("dark_plain", 12)}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real, untrained CRAS model folder (64 px grey tiles): station.yaml needs one."""
    return make_model_dir(
        tmp_path_factory.mktemp("capture-model") / "model", classes=("grey_twill",), tile_px=64
    )


def synthetic_yaml(folder: Path, model: Path, preset: str, seed: int, **synthetic: Any) -> Path:
    """station.yaml for a synthetic web of ``preset`` with many planted defects."""
    data = {
        "station": {"name": "capture-test"},
        "source": {
            "kind": "synthetic",
            "synthetic": {
                "fabric_preset": preset,
                "width_px": WIDTH_PX,
                "seed": seed,
                "defects_per_metre": 3.0,
                "mm_per_px": MM_PER_LINE,
                "lines_per_block": 96,
                **synthetic,
            },
        },
        "model": {"path": str(model), "backend": "torch", "device": "cpu", "batch_size": 8},
    }
    path = folder / f"station-{preset}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def capture(config: Path, fabric: str, metres: float, out: Path, *extra: str) -> int:
    return main(
        [
            "capture",
            "--config",
            str(config),
            "--fabric",
            fabric,
            "--metres",
            str(metres),
            "--out",
            str(out),
            "--strip-lines",
            str(STRIP_LINES),
            *extra,
        ]
    )


def read_manifest(out: Path, fabric: str) -> dict[str, Any]:
    return json.loads((out / fabric / "manifest.json").read_text())


def truth_web(preset: str, seed: int) -> FabricWeb:
    """The synthetic source's web, rebuilt to look up its pixels and planted defects."""
    return FabricWeb(
        fabric_style_preset(preset),
        width_px=WIDTH_PX,
        seed=seed,
        defects_per_metre=3.0,
        mm_per_px=MM_PER_LINE,
    )


def check_capture(out: Path, fabric: str, record: dict[str, Any], config: Path, metres: float):
    """The record's figures match its files, and the strips are the web's defect-free pixels."""
    preset, seed = FABRICS[fabric]
    files = sorted((out / fabric).glob(f"{fabric}_c{record['capture']:03d}_*.png"))
    assert [f.name for f in files] == [s["file"] for s in record["strips"]]
    assert record["strips_written"] == len(files) > 0
    assert metres <= record["metres_captured"] < metres + STRIP_M
    assert record["metres_kept"] == pytest.approx(len(files) * STRIP_M)
    assert record["strips_skipped"]["known_defect"] > 0  # the rule had something to skip
    rows = round(record["metres_captured"] / STRIP_M)
    assert rows == record["strips_written"] + sum(record["strips_skipped"].values())
    assert record["config_sha256"] == hashlib.sha256(config.read_bytes()).hexdigest()
    assert (record["station"], record["source_kind"], record["camera"]) == (
        "capture-test",
        "synthetic",
        None,
    )
    assert (record["mm_per_px"], record["mm_per_line"]) == (MM_PER_LINE, MM_PER_LINE)
    assert record["stopped_by"] == "metres"
    started = datetime.fromisoformat(record["started_at"])
    assert started.utcoffset() is not None  # UTC, with its offset written
    assert datetime.fromisoformat(record["ended_at"]) >= started
    web = truth_web(preset, seed)
    for strip, path in zip(record["strips"], files, strict=True):
        block = web.block_at(strip["first_line"], STRIP_LINES)
        # The synthetic web is fabric across the whole line: the crop keeps every column.
        assert (strip["left_px"], strip["right_px"]) == (0, WIDTH_PX)
        assert np.array_equal(read_image(path), block.pixels)
        assert not block.mask.any(), f"{path.name} holds a planted defect"


@pytest.mark.slow  # captures 5.5 m and trains a model on them
def test_fabric_a_then_b_then_more_a_into_one_folder_that_trains(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "captures"
    configs = {name: synthetic_yaml(tmp_path, model_dir, *FABRICS[name]) for name in FABRICS}
    for name, metres in (("fabric_a", 2.0), ("fabric_b", 2.5)):
        assert capture(configs[name], name, metres, out) == 0
        record = read_manifest(out, name)["captures"][0]
        check_capture(out, name, record, configs[name], metres)
    printed = capsys.readouterr().out
    assert "capture 1 of fabric_b" in printed and "manifest:" in printed

    # A second capture of fabric A adds strips under new names and extends the manifest.
    first_files = {p.name: p.read_bytes() for p in (out / "fabric_a").glob("*.png")}
    assert capture(configs["fabric_a"], "fabric_a", 1.0, out) == 0
    manifest = read_manifest(out, "fabric_a")
    assert [c["capture"] for c in manifest["captures"]] == [1, 2]
    check_capture(out, "fabric_a", manifest["captures"][1], configs["fabric_a"], 1.0)
    for name, data in first_files.items():
        assert (out / "fabric_a" / name).read_bytes() == data
    assert manifest["strips_total"] == len(list((out / "fabric_a").glob("*.png")))

    # The README's `station train`, on the captured folder, with the tests' tiny settings.
    model_out = tmp_path / "model"
    readme_command = ["train", "--data", str(out), "--layout", "folder", "--out", str(model_out)]
    tiny = ["--tile-px", "64", "--batch-size", "4", "--positions-per-tile", "16"]
    status = main([*readme_command, *tiny, "--noise-std", "1.0", "--epochs", "3"])
    assert status == 0, capsys.readouterr().err
    classes = json.loads((model_out / "model.json").read_text())["spec"]["classes"]
    assert classes == ["fabric_a", "fabric_b"]


def test_background_beyond_the_web_edges_is_cropped_off(model_dir: Path, tmp_path: Path) -> None:
    """A replayed web with machine background on both sides, one strip with no web at all."""
    web = truth_web("fine_twill", 3)
    images = tmp_path / "strips"
    images.mkdir()
    for index in range(3):
        line = np.zeros((STRIP_LINES, 400), np.uint8)  # flat black machine background
        line[:, 320:] = 250  # and a flat white guide on the right, beyond the bridged gap
        line[:, 40 + index : 232 + index] = web.block_at(index * STRIP_LINES, STRIP_LINES).pixels
        Image.fromarray(line).save(images / f"{index}.png")
    Image.fromarray(np.zeros((STRIP_LINES, 400), np.uint8)).save(images / "3.png")
    config = tmp_path / "replay.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "station": {"name": "capture-test"},
                "source": {
                    "kind": "replay",
                    "replay": {"paths": [str(images)], "lines_per_block": STRIP_LINES},
                },
                "geometry": {"mm_per_px": 0.25},
                "model": {"path": str(model_dir), "backend": "torch", "device": "cpu"},
            }
        )
    )
    assert capture(config, "edges", 50, tmp_path / "out") == 0
    record = read_manifest(tmp_path / "out", "edges")["captures"][0]
    assert record["stopped_by"] == "source_ended"
    assert record["strips_skipped"]["no_web"] == 1
    assert record["strips_written"] == 3
    for index, strip in enumerate(record["strips"]):
        image = read_image(tmp_path / "out" / "edges" / strip["file"])
        # No column of a saved strip is background, by the pipeline's own rule or by value ...
        assert fabric_columns(background_mask(image)).all()
        assert not ((image == 0) | (image == 250)).all(axis=0).any()
        # ... and none of the fabric was cut off.
        assert (strip["left_px"], strip["right_px"]) == (40 + index, 232 + index)
        assert image.shape == (STRIP_LINES, WIDTH_PX)


def test_operator_marked_stretches_are_left_out(model_dir: Path, tmp_path: Path) -> None:
    config = synthetic_yaml(tmp_path, model_dir, "grey_twill", 5, defects_per_metre=0.0)
    out = tmp_path / "out"
    assert capture(config, "marked", 1.0, out, "--skip", "0.2-0.4", "--skip", "0.9-2") == 0
    record = read_manifest(out, "marked")["captures"][0]
    assert record["skip_ranges_m"] == [[0.2, 0.4], [0.9, 2.0]]
    # 0.192-0.448 m and 0.896 m on: 4 + 2 strips of 0.064 m.
    assert record["strips_skipped"]["operator_marked"] == 6
    for strip in record["strips"]:
        assert strip["to_m"] <= 0.2 or 0.4 <= strip["from_m"] < strip["to_m"] <= 0.9


def test_skip_defects_scores_strips_with_the_model(model_dir: Path, tmp_path: Path) -> None:
    """The made-up calibration puts the threshold at the median: the model flags strips."""
    config = synthetic_yaml(tmp_path, model_dir, "grey_twill", 6, defects_per_metre=0.0)
    out = tmp_path / "out"
    assert capture(config, "scored", 0.5, out, "--skip-defects") == 0
    record = read_manifest(out, "scored")["captures"][0]
    assert record["skip_defects"]["path"] == str(model_dir)
    assert record["strips_skipped"]["model_flagged"] > 0
    rows = round(record["metres_captured"] / STRIP_M)
    assert record["strips_written"] + record["strips_skipped"]["model_flagged"] == rows


def test_sigint_mid_capture_leaves_a_valid_manifest_and_images(
    model_dir: Path, tmp_path: Path
) -> None:
    config = synthetic_yaml(tmp_path, model_dir, "grey_twill", 7, line_rate_hz=2000.0)
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    args = ["capture", "--config", str(config), "--fabric", "cut", "--metres", "1000"]
    process = subprocess.Popen(
        [sys.executable, "-m", "station", *args, "--out", str(out), "--strip-lines", "128"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while len(list((out / "cut").glob("*.png"))) < 3 and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()[1]
            time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert "SIGINT received: stopping" in stderr
    record = read_manifest(out, "cut")["captures"][0]
    assert record["stopped_by"] == "interrupted" and record["ended_at"] is not None
    assert 0 < record["metres_captured"] < 1000
    files = sorted((out / "cut").glob("*.png"))
    assert [f.name for f in files] == [s["file"] for s in record["strips"]]
    assert len(files) == record["strips_written"] >= 3
    for path in files:
        assert read_image(path).shape == (STRIP_LINES, WIDTH_PX)
    assert "stopped by interrupted" in stdout
    assert not list((out / "cut").glob(".*"))  # no temporary file left behind


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"--metres": "0"}, "--metres must be > 0"),
        ({"--metres": "-2"}, "--metres must be > 0"),
        ({"--fabric": "bad/name"}, "is not a usable fabric name"),
        ({"--fabric": "two words"}, "is not a usable fabric name"),
        ({"--fabric": "../up"}, "is not a usable fabric name"),
        ({"--fabric": "tab\there"}, "is not a usable fabric name"),
        ({"--out": "FILE"}, "is a file, not a folder"),
        ({"--out": "/sys/cras-capture-test"}, "cannot create /sys/cras-capture-test"),
        ({"--skip": "3-1"}, "is not a stretch FROM_M-TO_M"),
        ({"--strip-lines": "16"}, "--strip-lines must be from 32 to 4096"),
        ({"--strip-lines": "32", "--skip-defects": None}, "shorter than the model's tile"),
    ],
)
def test_bad_options_are_one_clear_error(
    model_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    change: dict[str, str | None],
    expected: str,
) -> None:
    config = synthetic_yaml(tmp_path, model_dir, "grey_twill", 1)
    (tmp_path / "FILE").write_text("not a folder")
    options = {
        "--config": str(config),
        "--fabric": "ok",
        "--metres": "1",
        "--out": str(tmp_path / "out"),
    }
    options.update({k: str(tmp_path / v) if v == "FILE" else v for k, v in change.items()})
    argv = ["capture"]
    for name, value in options.items():
        argv += [name] if value is None else [name, value]
    assert main(argv) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert err.startswith("error: ") and expected in err, err
    assert "what to do:" in err and "Traceback" not in err
    assert not list((tmp_path / "out").glob("*/*.png"))


def test_camera_capture_names_the_camera_and_keeps_no_background(
    model_dir: Path, tmp_path: Path
) -> None:
    """The genicam package's virtual camera sees a flat white field: no web, no strip."""
    cti = find_viky_cti()
    require(cti is not None, "the genicam package's GenTL producer viky.cti")
    config = tmp_path / "camera.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "station": {"name": "capture-test"},
                "source": {
                    "kind": "camera",
                    "camera": {
                        "cti_path": str(cti),
                        "device": "VikyTL_DEV_red",
                        "pixel_format": "Mono8",
                        "width_px": 256,
                        "lines_per_frame": 128,
                        "line_rate_hz": 128 * 20.0,
                    },
                },
                "geometry": {"mm_per_px": 0.2},
                "model": {"path": str(model_dir), "backend": "torch", "device": "cpu"},
            }
        )
    )
    assert capture(config, "white", 0.1, tmp_path / "out") == 0
    record = read_manifest(tmp_path / "out", "white")["captures"][0]
    assert record["source_kind"] == "camera" and record["stopped_by"] == "metres"
    assert record["camera"]["serial_number"] == "0" and record["camera"]["model"]
    assert record["strips_written"] == 0 and record["strips_skipped"]["no_web"] >= 3
    assert not list((tmp_path / "out" / "white").glob("*.png"))

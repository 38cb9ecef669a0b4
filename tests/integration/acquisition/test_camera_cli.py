"""``station camera list`` and ``station camera grab`` run for real against viky.cti."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from station.cli import EXIT_USER_ERROR, main

pytestmark = pytest.mark.camera


def test_list_prints_every_device(viky_cti: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["camera", "list", "--cti", str(viky_cti)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[:2] == ["id", "vendor"] and "serial" in lines[0]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == {"VikyTL_DEV_red", "VikyTL_DEV_green", "VikyTL_DEV_blue"}
    assert "Machine Vision Games Ltd." in rows["VikyTL_DEV_red"]
    assert rows["VikyTL_DEV_green"].split()[-2:] == ["-", "Custom"]  # no user-defined name


def test_grab_saves_frames_and_settings(
    viky_cti: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "grab"
    status = main(
        ["camera", "grab", "--cti", str(viky_cti), "--device", "VikyTL_DEV_blue",
         "--frames", "3", "--out", str(out)]
    )  # fmt: skip
    assert status == 0
    captured = capsys.readouterr()
    assert "grabbed 3/3 frames" in captured.err
    assert "saved 3 frame(s)" in captured.out
    pngs = sorted(out.glob("*.png"))
    assert [p.name for p in pngs] == ["frame_0000.png", "frame_0001.png", "frame_0002.png"]
    for png in pngs:
        rgb = np.asarray(Image.open(png))
        assert rgb.shape == (400, 400, 3)  # RGBa8 saved as RGB
        assert (rgb == [0, 0, 255]).all(axis=2).sum() == 400  # the blue ball
    settings = json.loads((out / "settings.json").read_text(encoding="utf-8"))
    assert settings["pixel_format"] == "RGBa8"
    assert (settings["width"], settings["height"]) == (400, 400)
    assert settings["device"]["serial_number"] == "2"
    features = settings["features"]
    assert features["Width"] == 400 and features["PixelFormat"] == "RGBa8"
    assert features["AcquisitionFrameRate"] > 0 and "BouncingBallSize" in features
    assert [f["first_line"] for f in settings["frames"]] == [0, 400, 800]
    assert settings["stats"]["blocks"] >= 3


def test_grab_mono_saves_grey_png(viky_cti: Path, tmp_path: Path) -> None:
    out = tmp_path / "mono"
    args = ["camera", "grab", "--cti", str(viky_cti), "--device", "1", "--out", str(out)]
    assert main([*args, "--pixel-format", "Mono8"]) == 0
    grey = np.asarray(Image.open(out / "frame_0000.png"))
    assert grey.shape == (400, 400)
    assert json.loads((out / "settings.json").read_text())["settings_applied"][0]["applied"]


def test_grab_unknown_device_lists_the_ids(
    viky_cti: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["camera", "grab", "--cti", str(viky_cti), "--device", "cam9", "--out", str(tmp_path)]
    assert main(args) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "--device: no device 'cam9'" in err
    assert "VikyTL_DEV_red" in err and "VikyTL_DEV_blue" in err
    assert "what to do:" in err and "Traceback" not in err


def test_missing_cti_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "vendor.cti"
    assert main(["camera", "list", "--cti", str(missing)]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert f"--cti: GenTL producer file {missing} does not exist" in err
    assert "install the camera vendor's GenTL producer" in err


def test_a_file_that_is_no_producer_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = tmp_path / "fake.cti"
    fake.write_text("not a shared library", encoding="utf-8")
    assert main(["camera", "list", "--cti", str(fake)]) == EXIT_USER_ERROR
    assert "cannot load GenTL producer" in capsys.readouterr().err


def test_unsupported_pixel_format_on_the_command_line(
    viky_cti: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["camera", "grab", "--cti", str(viky_cti), "--device", "0", "--out", str(tmp_path)]
    assert main([*args, "--pixel-format", "YUV422_8"]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "pixel_format" in err and "YUV422_8" in err and "Mono8" in err

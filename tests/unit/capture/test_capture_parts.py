"""The rules of ``station capture`` one by one: names, folders, manifests, skips, crops."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from station.acquisition.lines import Lines
from station.capture.manifest import (
    MANIFEST_FILE,
    CaptureOutputError,
    check_fabric_name,
    next_capture_number,
    prepare_fabric_folder,
    read_manifest,
    save_strip,
    strip_file_name,
    write_manifest,
)
from station.capture.strips import KnownDefects, SkipRange, crop_to_web, parse_skip_range
from station.pipeline.assembly import LinePositions, WebAssembler
from training.public import ConfigError


@pytest.mark.parametrize("name", ["A", "fabric_a", "denim-3.2", "x" * 64, "00"])
def test_usable_fabric_names(name: str) -> None:
    assert check_fabric_name(name) == name


@pytest.mark.parametrize("name", ["", ".hidden", "-x", "a/b", "a b", "é", "x" * 65, "a\nb"])
def test_unusable_fabric_names_are_a_config_error(name: str) -> None:
    with pytest.raises(ConfigError, match="not a usable fabric name") as caught:
        check_fabric_name(name)
    assert "\n" not in caught.value.message


def test_skip_ranges_parse_and_overlap() -> None:
    marked = parse_skip_range(" 1.5 - 2.25 ")
    assert marked == SkipRange(1.5, 2.25)
    assert marked.overlaps(2.0, 3.0) and marked.overlaps(1.0, 1.6)
    assert not marked.overlaps(2.25, 3.0) and not marked.overlaps(1.0, 1.5)
    for bad in ("2-1", "1-1", "a-b", "-1-2", "3"):
        with pytest.raises(ConfigError, match="FROM_M-TO_M"):
            parse_skip_range(bad)


def test_a_second_capture_never_reuses_a_name_even_without_its_manifest(tmp_path: Path) -> None:
    folder = prepare_fabric_folder(tmp_path / "out", "A")
    manifest = read_manifest(folder, "A")
    assert manifest["captures"] == [] and not (folder / MANIFEST_FILE).exists()
    assert next_capture_number(folder, "A", manifest) == 1
    save_strip(folder / strip_file_name("A", 1, 0), np.zeros((4, 4), np.uint8))
    # The manifest was lost, the strip of capture 1 is still there: capture 2 it is.
    assert next_capture_number(folder, "A", manifest) == 2
    with pytest.raises(CaptureOutputError, match="never overwrites"):
        save_strip(folder / strip_file_name("A", 1, 0), np.ones((4, 4), np.uint8))


def test_manifest_totals_and_the_wrong_fabric(tmp_path: Path) -> None:
    folder = prepare_fabric_folder(tmp_path, "A")
    manifest = read_manifest(folder, "A")
    manifest["captures"] += [
        {"capture": 1, "strips_written": 3, "metres_kept": 0.75},
        {"capture": 2, "strips_written": 2, "metres_kept": 0.5},
    ]
    write_manifest(folder, manifest)
    written = json.loads((folder / MANIFEST_FILE).read_text())
    assert (written["strips_total"], written["metres_kept_total"]) == (5, 1.25)
    assert read_manifest(folder, "A")["captures"][1]["capture"] == 2
    other = prepare_fabric_folder(tmp_path, "B")
    (other / MANIFEST_FILE).write_text((folder / MANIFEST_FILE).read_text())
    with pytest.raises(CaptureOutputError, match="belongs to fabric A"):
        read_manifest(other, "B")
    (other / MANIFEST_FILE).write_text("{not json")
    with pytest.raises(CaptureOutputError, match="cannot read the manifest"):
        read_manifest(other, "B")


def test_output_folder_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(CaptureOutputError, match="is a file, not a folder"):
        prepare_fabric_folder(tmp_path / "file", "A")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "A").write_text("x")
    with pytest.raises(CaptureOutputError, match=r"fabric folder .* is a file"):
        prepare_fabric_folder(tmp_path / "out", "A")


def _rows(pixels: np.ndarray, *, lines: int, truth: np.ndarray | None = None):
    assembler = WebAssembler(tile_px=lines, overlap_px=0, positions=LinePositions(mm_per_line=0.5))
    block = Lines(pixels=pixels, first_line=0, timestamp_s=0.0, truth_mask=truth)
    return block, assembler.add(block)


def test_crop_leaves_out_the_background_and_its_halo() -> None:
    rng = np.random.default_rng(0)
    pixels = np.zeros((64, 200), np.uint8)
    pixels[:, 30:170] = rng.integers(60, 200, size=(64, 140))
    _, rows = _rows(pixels, lines=32)
    strips = [crop_to_web(row) for row in rows]
    assert [(s.left, s.right) for s in strips] == [(30, 170), (30, 170)]
    assert strips[1].from_m == pytest.approx(0.016) and strips[1].to_m == pytest.approx(0.032)
    # Fabric narrower than the strip is long cannot be tiled for training: no strip.
    assert crop_to_web(_rows(pixels, lines=64)[1][0]) is not None
    narrow = np.zeros((64, 200), np.uint8)
    narrow[:, 30:90] = pixels[:, 30:90]
    assert crop_to_web(_rows(narrow, lines=64)[1][0]) is None


def test_known_defects_are_looked_up_inside_the_strip_only() -> None:
    pixels = np.random.default_rng(1).integers(60, 200, size=(64, 100)).astype(np.uint8)
    truth = np.zeros((64, 100), bool)
    truth[40, 50] = True
    block, rows = _rows(pixels, lines=32, truth=truth)
    known = KnownDefects()
    known.add(block)
    first, second = (crop_to_web(row) for row in rows)
    assert not known.in_strip(first) and known.in_strip(second)
    known.forget_before(64)
    assert not known.in_strip(second)

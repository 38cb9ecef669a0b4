"""``station capture`` from a replay of real AITEX defect-free strips keeps no background.

The AITEX strips show a white (or black) machine margin beyond the fabric on the
left, and the fabric's edge is not straight: on some strips it wanders by a few
columns from line to line. The strips chosen here include three of those
(``0005_000_03``, ``0008_000_03``, ``0019_000_02``), where background pixels reach
into columns the web-edge rule counts as fabric. Every written strip must be the
replayed pixels of its web columns, none of them background by the pipeline's own
rule (:func:`training.public.background_mask`, judged on the replayed web).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml

from station.cli import main
from training.public import background_mask, read_image

STRIP_LINES = 256  # one AITEX image per strip
# Fabric folder -> strips of it replayed (defect-free; the first three have a wandering edge).
STRIPS = {
    "2311694-1930c7u": ["0005_000_03.png", "0008_000_03.png"],
    "2306894-210033u": ["0019_000_02.png"],
    "2311694-2040n7u": ["0001_000_00.png"],
    "2306881-210020u": ["0011_000_05.png"],
}


def test_strips_captured_from_real_aitex_fabric_hold_no_background(
    aitex_dir: Path, tmp_path: Path
) -> None:
    paths = [
        aitex_dir / "NODefect_images" / d / name for d, names in STRIPS.items() for name in names
    ]
    config = tmp_path / "replay.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "station": {"name": "aitex-capture"},
                "source": {
                    "kind": "replay",
                    "replay": {"paths": [str(p) for p in paths], "lines_per_block": STRIP_LINES},
                },
                "geometry": {"mm_per_px": 0.2},
                "recipes": {"per_roll": True},  # no model.path needed
            }
        )
    )
    out = tmp_path / "captures"
    argv = ["capture", "--config", str(config), "--fabric", "aitex", "--metres", "50"]
    assert main([*argv, "--out", str(out), "--strip-lines", str(STRIP_LINES)]) == 0
    record = json.loads((out / "aitex" / "manifest.json").read_text())["captures"][0]
    assert record["stopped_by"] == "source_ended"
    assert record["strips_written"] == len(paths), record["strips_skipped"]

    # The replayed web as the camera saw it: the images one after another.
    web = np.concatenate([read_image(path) for path in paths])
    background = background_mask(web)
    for strip in record["strips"]:
        first, left, right = strip["first_line"], strip["left_px"], strip["right_px"]
        image = read_image(out / "aitex" / strip["file"])
        assert np.array_equal(image, web[first : first + STRIP_LINES, left:right])
        stray = background[first : first + STRIP_LINES, left:right]
        assert not stray.any(), (
            f"{strip['file']} (columns {left}-{right}) holds {int(stray.sum())} background "
            f"pixels in columns {[int(c) + left for c in np.flatnonzero(stray.any(axis=0))]}"
        )
        # The margin really is there, and the strip starts just past it.
        assert left > 0 and background[first : first + STRIP_LINES, left - 8 : left].any()

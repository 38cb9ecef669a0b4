"""ReplaySource on the real AITEX strips: 4096 x 256 strips are 256 lines of 4096 pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from station.acquisition import ReplayConfig, ReplaySource
from training.data.images import read_image
from training.errors import ConfigError

NARROW_STRIP = "0094_027_05.png"  # the one AITEX strip that is 3796 pixels wide


def test_fabric_05_plays_strip_by_strip_with_the_narrow_strip_padded(aitex_dir: Path) -> None:
    config = ReplayConfig(aitex_root=aitex_dir, aitex_set="all", aitex_fabric="05")
    with ReplaySource(config) as source:
        files = list(source.files)
        blocks = list(source)
    assert len(files) == 21 and files[-1].name == NARROW_STRIP  # 20 normal, then 1 defective
    assert all(f.name.endswith("_05.png") for f in files)
    assert source.width_px == 4096
    assert [b.pixels.shape for b in blocks] == [(256, 4096)] * 21
    assert [b.first_line for b in blocks] == [256 * k for k in range(21)]
    assert all(b.segment_start for b in blocks)  # strips are separate pieces of fabric
    np.testing.assert_array_equal(blocks[0].pixels, read_image(files[0]))
    narrow = read_image(files[-1])
    assert narrow.shape == (256, 3796)
    np.testing.assert_array_equal(blocks[-1].pixels[:, :3796], narrow)
    np.testing.assert_array_equal(
        blocks[-1].pixels[:, 3796:], np.repeat(narrow[:, -1:], 300, axis=1)
    )


def test_unknown_fabric_code_lists_the_codes(aitex_dir: Path) -> None:
    source = ReplaySource(ReplayConfig(aitex_root=aitex_dir, aitex_fabric="07"))
    with pytest.raises(ConfigError, match="fabric '07'") as caught:
        source.start()
    assert "00, 02, 03, 05" in caught.value.hint


def test_folder_without_aitex_layout_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"replay.aitex_root: .* does not have the AITEX layout"):
        ReplaySource(ReplayConfig(aitex_root=tmp_path)).start()

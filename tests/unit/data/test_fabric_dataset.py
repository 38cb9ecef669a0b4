"""The synthetic MVTec-layout data set: folders, masks, determinism, refusing to overwrite."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from training.data.fabric import (
    FABRIC_PRESETS,
    MANIFEST_NAME,
    FabricDatasetError,
    FabricRenderError,
    FabricStyleError,
    write_mvtec_dataset,
)
from training.data.images import list_images, read_image, read_mask

SMALL = {"tile_px": 64, "n_train": 3, "n_test_good": 2, "n_test_defect": 5, "seed": 7}
KINDS = ["hole", "broken_end"]


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_layout_masks_and_manifest(tmp_path: Path) -> None:
    root = write_mvtec_dataset(
        tmp_path / "fabric", classes=["grey_twill", "dark_plain"], kinds=KINDS, **SMALL
    )
    assert root == tmp_path / "fabric"
    for name in ("grey_twill", "dark_plain"):
        base = root / name
        assert len(list_images(base / "train" / "good")) == 3
        assert len(list_images(base / "test" / "good")) == 2
        # Five defective tiles spread over two kinds in turn: 3 holes, 2 broken ends.
        assert [len(list_images(base / "test" / kind)) for kind in KINDS] == [3, 2]
        for kind in KINDS:
            for image_path in list_images(base / "test" / kind):
                image = read_image(image_path)
                assert image.shape == (64, 64)
                mask_path = base / "ground_truth" / kind / f"{image_path.stem}_mask.png"
                mask = read_mask(mask_path, expected_shape=image.shape)
                assert mask.any()
                raw = read_image(mask_path)
                assert set(np.unique(raw)) <= {0, 255}
        assert not (base / "ground_truth" / "good").exists()
    manifest = json.loads((root / MANIFEST_NAME).read_text())
    assert manifest["seed"] == 7 and set(manifest["classes"]) == {"grey_twill", "dark_plain"}
    assert manifest["classes"]["dark_plain"]["weave"] == "plain"


def test_the_same_seed_writes_the_same_pixels(tmp_path: Path) -> None:
    first = write_mvtec_dataset(tmp_path / "a", classes=["fine_twill"], kinds=KINDS, **SMALL)
    second = write_mvtec_dataset(tmp_path / "b", classes=["fine_twill"], kinds=KINDS, **SMALL)
    assert _files(first) == _files(second)
    for relative in _files(first):
        if relative.endswith(".png"):
            np.testing.assert_array_equal(
                read_image(first / relative), read_image(second / relative)
            )
    third = write_mvtec_dataset(
        tmp_path / "c", classes=["fine_twill"], kinds=KINDS, **{**SMALL, "seed": 8}
    )
    relative = "fine_twill/train/good/000.png"
    assert not np.array_equal(read_image(first / relative), read_image(third / relative))


def test_training_tiles_differ_from_each_other(tmp_path: Path) -> None:
    root = write_mvtec_dataset(tmp_path / "d", classes=["charcoal_plain"], kinds=KINDS, **SMALL)
    tiles = [read_image(p) for p in list_images(root / "charcoal_plain" / "train" / "good")]
    assert not np.array_equal(tiles[0], tiles[1]) and not np.array_equal(tiles[1], tiles[2])


def test_custom_styles_in_rgb(tmp_path: Path) -> None:
    root = write_mvtec_dataset(
        tmp_path / "rgb", classes={"jeans": FABRIC_PRESETS["denim"]}, channels=3,
        kinds=["stain"], **SMALL,
    )  # fmt: skip
    image = read_image(root / "jeans" / "test" / "stain" / "000.png", channels=3)
    assert image.shape == (64, 64, 3)
    assert image[..., 2].mean() > image[..., 0].mean() + 10


def test_a_non_empty_class_folder_is_not_overwritten_unless_asked(tmp_path: Path) -> None:
    root = tmp_path / "keep"
    keepsake = root / "grey_twill" / "notes.txt"
    keepsake.parent.mkdir(parents=True)
    keepsake.write_text("mine")
    with pytest.raises(FabricDatasetError, match="not empty") as caught:
        write_mvtec_dataset(root, classes=["grey_twill"], kinds=KINDS, **SMALL)
    assert "overwrite" in caught.value.hint
    assert keepsake.read_text() == "mine"
    write_mvtec_dataset(root, classes=["grey_twill"], kinds=KINDS, overwrite=True, **SMALL)
    assert not keepsake.exists()
    assert len(list_images(root / "grey_twill" / "train" / "good")) == 3


def test_bad_arguments_raise_our_errors(tmp_path: Path) -> None:
    with pytest.raises(FabricStyleError, match="corduroy"):
        write_mvtec_dataset(tmp_path / "x", classes=["corduroy"])
    with pytest.raises(FabricRenderError, match="n_train"):
        write_mvtec_dataset(tmp_path / "x", classes=["denim"], n_train=-1)
    with pytest.raises(FabricRenderError, match="tile_px"):
        write_mvtec_dataset(tmp_path / "x", classes=["denim"], tile_px=8)
    with pytest.raises(FabricRenderError, match="folder name"):
        write_mvtec_dataset(tmp_path / "x", classes={"a/b": FABRIC_PRESETS["denim"]})
    assert not (tmp_path / "x").exists(), "nothing is written when the arguments are bad"

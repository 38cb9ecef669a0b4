"""Data layouts (AITEX, MVTec, folder), the standard split, masks and tiles, and errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from training.data.aitex import aitex_items
from training.data.datasets import available_classes, load_tiles
from training.data.fabric import preset, render_fabric
from training.data.images import read_image, read_mask
from training.errors import (
    ConfigError,
    DataError,
    MaskMismatchError,
    UnknownClassError,
    UnreadableImageError,
)

from .helpers import AITEX_ROLLS, MVTEC_CLASSES, TILE_PX, rect_mask, save_grey, write_aitex

HEIGHT, WIDTH = 64, 256


def _strip(seed: int, width: int = WIDTH) -> np.ndarray:
    return render_fabric(preset("fine_twill"), height_px=HEIGHT, width_px=width, seed=seed)


@pytest.fixture(scope="module")
def aitex_root(tmp_path_factory) -> Path:
    """Two fabrics (00, 02), 20 normal strips each, with the real files' quirks."""
    root = write_aitex(tmp_path_factory.mktemp("aitex") / "aitex")
    normal = root / "NODefect_images"
    # First train strip of fabric 00: its left tile is machine background (flat white).
    first = read_image(normal / AITEX_ROLLS["00"] / "0001_000_00.png").copy()
    first[:, :64] = 250
    save_grey(normal / AITEX_ROLLS["00"] / "0001_000_00.png", first)
    # Fabric 02's later strips lie in a second roll folder that sorts first: the split
    # must follow the strip names, not the folder order.
    second_roll = normal / "0000-second-roll"
    second_roll.mkdir()
    for n in range(10, 20):
        name = f"{2 * n + 2:04d}_000_02.png"
        (normal / AITEX_ROLLS["02"] / name).rename(second_roll / name)
    # A grey + alpha PNG (mode "LA").
    la_path = normal / AITEX_ROLLS["02"] / "0008_000_02.png"
    save_grey(la_path, read_image(la_path), mode="LA")
    assert Image.open(la_path).mode == "LA"
    defects, masks = root / "Defect_images", root / "Mask_images"
    # One mask with soft edges: 255 inside tile 1, a faint 120 halo reaching into tile 0.
    save_grey(defects / "0101_002_00.png", _strip(101))
    soft = rect_mask(HEIGHT, WIDTH, (40, 8, 100, 40), value=120)
    soft[10:30, 70:90] = 255
    save_grey(masks / "0101_002_00_mask.png", soft)
    # Two defects on one strip: _mask1 in tile 0 and _mask2 in tile 3, to be unioned.
    save_grey(defects / "0102_006_00.png", _strip(102))
    save_grey(masks / "0102_006_00_mask1.png", rect_mask(HEIGHT, WIDTH, (5, 3, 15, 9)))
    save_grey(masks / "0102_006_00_mask2.png", rect_mask(HEIGHT, WIDTH, (200, 50, 231, 60)))
    # A narrower strip (like 0094_027_05, 3796 px wide) with its narrower mask.
    save_grey(defects / "0103_010_02.png", _strip(103, width=224))
    save_grey(masks / "0103_010_02_mask.png", rect_mask(HEIGHT, 224, (200, 20, 210, 30)))
    return root


def test_aitex_split_follows_the_sorted_strip_numbers(aitex_root: Path) -> None:
    for code, offset in (("00", 1), ("02", 2)):
        names = [f"{2 * n + offset:04d}_000_{code}.png" for n in range(20)]
        train = aitex_items(aitex_root, split="train", classes=[code])
        val = aitex_items(aitex_root, split="val", classes=[code])
        test = aitex_items(aitex_root, split="test", classes=[code])
        assert [i.path.name for i in train] == names[:14]
        assert [i.path.name for i in val] == names[14:16]
        assert [i.path.name for i in test if not i.is_defective] == names[16:]
        defective = [i for i in test if i.is_defective]
        assert all(i.class_name == code for i in train + val + test)
        assert len(defective) == (2 if code == "00" else 1)
    test00 = aitex_items(aitex_root, split="test", classes=["00"])
    two = next(i for i in test00 if i.path.name == "0102_006_00.png")
    assert [p.name for p in two.mask_paths] == ["0102_006_00_mask1.png", "0102_006_00_mask2.png"]
    assert two.defect_type == "006"


def test_aitex_tiles_counts_labels_and_masks(aitex_root: Path) -> None:
    assert available_classes(aitex_root, layout="aitex") == ["00", "02"]
    load = dict(layout="aitex", tile_px=TILE_PX, progress=False)
    train = load_tiles(aitex_root, split="train", **load)
    # 14 strips x 4 tiles per fabric. On the first strip the web starts at the white
    # background's blurred edge (x = 60), so its tiles start there, as the station
    # places them, and the last one is flush with the right edge.
    assert len(train) == 2 * 14 * 4 and train.classes == ("00", "02")
    assert np.bincount(train.class_index).tolist() == [56, 56]
    assert train.tiles.shape == (112, 64, 64, 1) and train.tiles.dtype == np.uint8
    assert not train.labels.any()
    first_strip = train.image_index == 0
    assert train.boxes[first_strip, 0].tolist() == [60, 124, 188, 192]
    val = load_tiles(aitex_root, split="val", **load)
    assert len(val) == 2 * 2 * 4 and not val.labels.any()

    test = load_tiles(aitex_root, split="test", **load)
    assert len(test) == (4 + 2) * 4 + (4 + 1) * 4

    def rows(name: str) -> np.ndarray:
        (number,) = [k for k, item in enumerate(test.items) if item.path.name == name]
        return np.flatnonzero(test.image_index == number)

    soft = rows("0101_002_00.png")
    assert test.labels[soft].tolist() == [0, 1, 0, 0]  # the 120 halo is not a defect
    assert test.masks[soft[1]].sum() == 20 * 20
    unioned = rows("0102_006_00.png")
    assert test.labels[unioned].tolist() == [1, 0, 0, 1]
    assert test.masks[unioned[0]][3:9, 5:15].all() and test.masks[unioned[0]].sum() == 60
    assert test.masks[unioned[3]][50:60, 8:39].all() and test.masks[unioned[3]].sum() == 310
    narrow = rows("0103_010_02.png")
    assert test.boxes[narrow, 0].tolist() == [0, 64, 128, 160]
    assert test.labels[narrow].tolist() == [0, 0, 0, 1]
    normal_rows = np.flatnonzero(
        ~np.isin(test.image_index, [k for k, i in enumerate(test.items) if i.is_defective])
    )
    assert len(normal_rows) == 32 and not test.labels[normal_rows].any()
    assert test.fabric.shape == test.masks.shape and test.fabric.all()


def test_la_strip_reads_as_its_grey_channel(aitex_root: Path) -> None:
    path = aitex_root / "NODefect_images" / AITEX_ROLLS["02"] / "0008_000_02.png"
    grey = read_image(path)
    assert grey.shape == (HEIGHT, WIDTH) and grey.dtype == np.uint8
    assert np.array_equal(grey, np.asarray(Image.open(path))[..., 0])


def test_read_mask_threshold_is_above_127(tmp_path: Path) -> None:
    values = np.array([[0, 127, 128, 255]], dtype=np.uint8)
    save_grey(tmp_path / "m.png", values)
    assert read_mask(tmp_path / "m.png").tolist() == [[False, False, True, True]]


def test_mvtec_layout(mvtec_root: Path) -> None:
    load = dict(layout="mvtec", tile_px=TILE_PX, progress=False)
    assert available_classes(mvtec_root, layout="mvtec") == sorted(MVTEC_CLASSES)
    train = load_tiles(mvtec_root, split="train", classes=list(MVTEC_CLASSES), **load)
    val = load_tiles(mvtec_root, split="val", classes=list(MVTEC_CLASSES), **load)
    test = load_tiles(mvtec_root, split="test", classes=list(MVTEC_CLASSES), **load)
    assert np.bincount(train.class_index).tolist() == [8, 8]
    assert [i.path.name for i in val.items] == ["008.png", "009.png"] * 2
    assert len(test) == 12 and test.classes == MVTEC_CLASSES
    for k, item in enumerate(test.items):
        rows = test.image_index == k
        expected = read_mask(item.mask_paths[0]).any() if item.mask_paths else False
        assert test.labels[rows].tolist() == [int(expected)]
        assert np.array_equal(test.tiles[rows][0, ..., 0], read_image(item.path))
    assert test.labels.sum() == 6


def test_folder_layout_has_train_and_val_only(tmp_path: Path) -> None:
    for k, name in enumerate(("alpha", "beta")):
        for n in range(7):
            save_grey(tmp_path / name / f"{n:02d}.png", _strip(10 * k + n, width=64))
    train = load_tiles(tmp_path, layout="folder", split="train", tile_px=64, progress=False)
    val = load_tiles(tmp_path, layout="folder", split="val", tile_px=64, progress=False)
    assert np.bincount(train.class_index).tolist() == [6, 6]
    assert [i.path.name for i in val.items] == ["06.png", "06.png"]
    with pytest.raises(DataError, match="no test split"):
        load_tiles(tmp_path, layout="folder", split="test", tile_px=64, progress=False)


@pytest.mark.parametrize("layout", ["aitex", "mvtec"])
def test_unknown_class_lists_the_available_ones(aitex_root, mvtec_root, layout: str) -> None:
    root = aitex_root if layout == "aitex" else mvtec_root
    with pytest.raises(UnknownClassError) as caught:
        load_tiles(root, layout=layout, split="train", classes=["nope"], progress=False)
    assert "nope" in caught.value.message
    for name in available_classes(root, layout=layout):
        assert name in caught.value.hint


def _small_aitex(root: Path, *, normals: int = 20) -> Path:
    return write_aitex(root, codes=("00",), normals=normals, width_px=64)


def test_corrupt_png_is_an_unreadable_image(tmp_path: Path) -> None:
    root = _small_aitex(tmp_path / "a")
    bad = root / "NODefect_images" / AITEX_ROLLS["00"] / "0005_000_00.png"
    bad.write_bytes(bad.read_bytes()[:60])  # truncated
    with pytest.raises(UnreadableImageError, match=r"0005_000_00\.png"):
        load_tiles(root, layout="aitex", split="train", tile_px=64, progress=False)


def test_mask_of_the_wrong_size(tmp_path: Path) -> None:
    root = _small_aitex(tmp_path / "a")
    save_grey(root / "Defect_images" / "0200_002_00.png", _strip(1, width=64))
    save_grey(root / "Mask_images" / "0200_002_00_mask.png", rect_mask(64, 60, (1, 1, 5, 5)))
    with pytest.raises(MaskMismatchError, match="60x64"):
        load_tiles(root, layout="aitex", split="test", tile_px=64, progress=False)


def test_defect_strip_without_mask(tmp_path: Path) -> None:
    root = _small_aitex(tmp_path / "a")
    save_grey(root / "Defect_images" / "0200_002_00.png", _strip(1, width=64))
    with pytest.raises(DataError, match="has no mask"):
        load_tiles(root, layout="aitex", split="test", tile_px=64, progress=False)


def test_empty_split_and_empty_folder(tmp_path: Path) -> None:
    root = _small_aitex(tmp_path / "a", normals=14)
    with pytest.raises(DataError, match=r"val split .* is empty"):
        load_tiles(root, layout="aitex", split="val", tile_px=64, progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no classes"):
        load_tiles(tmp_path / "empty", layout="mvtec", split="train", progress=False)
    with pytest.raises(DataError, match="not an AITEX folder"):
        load_tiles(tmp_path / "empty", layout="aitex", split="train", progress=False)


def test_all_background_and_too_small_images(tmp_path: Path) -> None:
    for n in range(3):
        save_grey(tmp_path / "white" / f"{n}.png", np.full((64, 64), 250, np.uint8))
        save_grey(tmp_path / "tiny" / f"{n}.png", _strip(n, width=64)[:32, :32])
    with pytest.raises(DataError, match="rejected as background"):
        load_tiles(
            tmp_path, layout="folder", split="train", classes=["white"], tile_px=64, progress=False
        )
    with pytest.raises(DataError, match="smaller than the tile"):
        load_tiles(
            tmp_path, layout="folder", split="train", classes=["tiny"], tile_px=64, progress=False
        )


def test_unknown_layout_or_split(mvtec_root: Path) -> None:
    with pytest.raises(ConfigError, match="layout"):
        load_tiles(mvtec_root, layout="coco", split="train", progress=False)
    with pytest.raises(ConfigError, match="split"):
        load_tiles(mvtec_root, layout="mvtec", split="training", progress=False)

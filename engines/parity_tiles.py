"""The tiles a parity check runs on: real AITEX fabric where present, else generated fabric.

Real tiles come from the test split of the AITEX data (defective strips with
their masks, and the test-normal strips), half defective and half normal when
there are enough, cut at the model's tile size with the background rule.
Where the data is absent (a user's machine), seeded procedural fabric with
planted defects stands in, and the report says which was used.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.data.aitex import aitex_classes, aitex_items
from training.data.fabric import FABRIC_PRESETS, GREY_PRESETS, plant_defects, render_fabric
from training.data.images import read_image, read_mask
from training.data.tiling import cut_tiles
from training.errors import DataError

log = logging.getLogger(__name__)

DEFAULT_PARITY_TILES = 256


@dataclass(frozen=True)
class ParityTiles:
    """Tiles with labels.

    Attributes:
        tiles: uint8 [T, S, S, C].
        labels: int64 [T], 1 where the tile holds a defect.
        source: Where they came from (for the report).
    """

    tiles: np.ndarray
    labels: np.ndarray
    source: str


def is_aitex_dir(path: Path) -> bool:
    return (path / "NODefect_images").is_dir() and (path / "Defect_images").is_dir()


def find_aitex_dir(explicit: str | Path | None = None) -> Path | None:
    """The AITEX folder: ``explicit``, ``$CRAS_AITEX_DIR`` or ``../shared/datasets/aitex``.

    Raises:
        DataError: ``explicit`` is given but is not an AITEX folder.
    """
    if explicit is not None:
        if not is_aitex_dir(Path(explicit)):
            raise DataError(
                f"{explicit} is not an AITEX folder (NODefect_images/ and Defect_images/)",
                hint="point --data at the AITEX data set, or leave it out to use "
                "../shared/datasets/aitex or generated fabric",
            )
        return Path(explicit)
    candidates = []
    if os.environ.get("CRAS_AITEX_DIR"):
        candidates.append(Path(os.environ["CRAS_AITEX_DIR"]))
    repo_root = Path(__file__).resolve().parents[1]
    candidates += [
        repo_root.parent / "shared" / "datasets" / "aitex",
        Path.cwd().parent / "shared" / "datasets" / "aitex",
    ]
    return next((candidate for candidate in candidates if is_aitex_dir(candidate)), None)


def collect_parity_tiles(
    *,
    tile_px: int,
    in_channels: int,
    count: int = DEFAULT_PARITY_TILES,
    data_dir: str | Path | None = None,
    seed: int = 0,
) -> ParityTiles:
    """Real AITEX tiles when the data is found, generated fabric otherwise.

    Args:
        tile_px: S of the model.
        in_channels: C of the model.
        count: Number of tiles (about half defective).
        data_dir: AITEX folder; searched for when None.
        seed: Which strips and tiles are picked.
    """
    root = find_aitex_dir(data_dir)
    if root is not None:
        tiles = aitex_parity_tiles(
            root, tile_px=tile_px, in_channels=in_channels, count=count, seed=seed
        )
        if len(tiles.labels) > 0:
            return tiles
    return generated_parity_tiles(tile_px=tile_px, in_channels=in_channels, count=count, seed=seed)


def aitex_parity_tiles(
    root: Path, *, tile_px: int, in_channels: int, count: int, seed: int = 0
) -> ParityTiles:
    """Up to ``count`` tiles of the AITEX test split, half defective where possible."""
    items = aitex_items(root, split="test", classes=aitex_classes(root))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(items))
    wanted = {1: count // 2, 0: count - count // 2}
    picked: dict[int, list[np.ndarray]] = {0: [], 1: []}
    for index in order:
        if all(len(picked[label]) >= wanted[label] for label in picked):
            break
        item = items[int(index)]
        image = read_image(item.path, channels=in_channels)
        mask = np.zeros(image.shape[:2], dtype=bool)
        for mask_path in item.mask_paths:
            mask |= read_mask(mask_path, expected_shape=image.shape[:2])
        try:
            boxes, tiles = cut_tiles(image, tile_px=tile_px)
        except ValueError:
            continue  # strip smaller than a tile
        for box, tile in zip(boxes, tiles, strict=True):
            label = int(mask[box.y : box.y + box.size, box.x : box.x + box.size].any())
            if len(picked[label]) < wanted[label]:
                picked[label].append(tile if tile.ndim == 3 else tile[..., None])
    return _stack(
        picked, source=f"AITEX test split ({root})", tile_px=tile_px, channels=in_channels
    )


def generated_parity_tiles(
    *, tile_px: int, in_channels: int, count: int, seed: int = 0
) -> ParityTiles:
    """Seeded procedural fabric tiles; every other one carries a planted defect."""
    presets = GREY_PRESETS if in_channels == 1 else tuple(FABRIC_PRESETS)
    rng = np.random.default_rng(seed)
    picked: dict[int, list[np.ndarray]] = {0: [], 1: []}
    for number in range(count):
        style = FABRIC_PRESETS[presets[number % len(presets)]]
        tile = render_fabric(
            style,
            height_px=tile_px,
            width_px=tile_px,
            first_line=number * tile_px,
            seed=seed + number,
            channels=in_channels,
        )
        label = number % 2
        if label:
            planted = plant_defects(tile, rng=rng, count=1, scale=max(0.05, tile_px / 256))
            tile = planted.image
            label = int(planted.mask.any())
        picked[label].append(tile if tile.ndim == 3 else tile[..., None])
    return _stack(
        picked,
        source=f"generated fabric ({', '.join(presets)}; seed {seed})",
        tile_px=tile_px,
        channels=in_channels,
    )


def _stack(
    picked: dict[int, list[np.ndarray]], *, source: str, tile_px: int, channels: int
) -> ParityTiles:
    tiles = picked[0] + picked[1]
    labels = np.array([0] * len(picked[0]) + [1] * len(picked[1]), dtype=np.int64)
    if not tiles:
        empty = np.zeros((0, tile_px, tile_px, channels), dtype=np.uint8)
        return ParityTiles(tiles=empty, labels=labels, source=source)
    log.info("parity tiles: %d (%d defective) from %s", len(tiles), int(labels.sum()), source)
    return ParityTiles(tiles=np.ascontiguousarray(np.stack(tiles)), labels=labels, source=source)

"""One entry point for every layout: ``load_tiles(root, layout=..., split=...)``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from training.data.aitex import aitex_classes, aitex_items
from training.data.images import read_image, read_mask
from training.data.items import SPLITS, ImageItem, TileSet
from training.data.mvtec import class_folders, folder_items, mvtec_items
from training.data.tiling import DEFAULT_MAX_BACKGROUND, background_mask, fabric_tile_boxes
from training.errors import ConfigError, DataError, UnknownClassError

log = logging.getLogger(__name__)

LAYOUTS: dict[str, tuple[Callable[[Path], list[str]], Callable[..., list[ImageItem]]]] = {
    "aitex": (aitex_classes, aitex_items),
    "mvtec": (class_folders, mvtec_items),
    "folder": (class_folders, folder_items),
}


def available_classes(root: str | Path, *, layout: str) -> list[str]:
    """Class names a data folder offers in the given layout."""
    return _layout(layout)[0](Path(root))


def _layout(layout: str):
    if layout not in LAYOUTS:
        raise ConfigError(
            f"unknown data layout {layout!r}", hint=f"choose one of: {', '.join(LAYOUTS)}"
        )
    return LAYOUTS[layout]


def resolve_classes(root: str | Path, *, layout: str, classes: list[str] | None) -> list[str]:
    """Check requested class names against the data; ``None`` means all of them.

    Raises:
        UnknownClassError: a requested class does not exist.
        DataError: the folder offers no classes.
    """
    offered = available_classes(root, layout=layout)
    if not offered:
        raise DataError(f"no classes found in {root} ({layout} layout)", hint="check --data")
    if not classes:
        return offered
    unknown = [name for name in classes if name not in offered]
    if unknown:
        raise UnknownClassError(
            f"unknown class(es) {', '.join(unknown)} in {root}",
            hint=f"this {layout} folder has: {', '.join(offered)}",
        )
    return list(classes)


def load_tiles(
    root: str | Path,
    *,
    layout: str,
    split: str,
    classes: list[str] | None = None,
    tile_px: int = 256,
    overlap_px: int = 0,
    channels: int = 1,
    max_background: float = DEFAULT_MAX_BACKGROUND,
    progress: bool = True,
) -> TileSet:
    """Read one split and cut it into fabric tiles.

    Args:
        root: Data folder.
        layout: ``aitex``, ``mvtec`` or ``folder``.
        split: ``train``, ``val`` or ``test``.
        classes: Class names (AITEX: fabric codes such as ``"00"``); None = all.
        tile_px: S.
        overlap_px: Overlap of neighbouring tiles.
        channels: 1 (grey) or 3 (RGB).
        max_background: Tiles with a larger background fraction are dropped.
        progress: Show a progress bar.

    Returns:
        The tiles with masks, class indices and provenance.

    Raises:
        DataError: no images, unreadable images, masks of the wrong size, tiles too large.
        UnknownClassError: unknown class name.
    """
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}", hint=f"choose one of: {', '.join(SPLITS)}")
    root = Path(root)
    names = resolve_classes(root, layout=layout, classes=classes)
    items = _layout(layout)[1](root, split=split, classes=names)
    if not items:
        raise DataError(
            f"the {split} split of {root} ({layout} layout, classes {', '.join(names)}) is empty",
            hint="check the folder structure against the layout described in the README",
        )
    tiles, masks, fabric, class_index, image_index, boxes = [], [], [], [], [], []
    for number, item in enumerate(tqdm(items, desc=f"reading {split}", disable=not progress)):
        image = read_image(item.path, channels=channels)
        mask = np.zeros(image.shape[:2], dtype=bool)
        for mask_path in item.mask_paths:
            mask |= read_mask(mask_path, expected_shape=image.shape[:2])
        background = background_mask(image)
        try:
            kept = fabric_tile_boxes(
                image,
                background,
                tile_px=tile_px,
                overlap_px=overlap_px,
                max_background=max_background,
            )
        except ValueError as error:
            raise DataError(
                f"{item.path}: {error}", hint="use a smaller --tile-px or larger images"
            ) from None
        for box in kept:
            window = (slice(box.y, box.y + box.size), slice(box.x, box.x + box.size))
            tile = image[window]
            tiles.append(tile if tile.ndim == 3 else tile[..., None])
            masks.append(mask[window])
            fabric.append(~background[window])
            class_index.append(names.index(item.class_name))
            image_index.append(number)
            boxes.append((box.x, box.y))
    if not tiles:
        raise DataError(
            f"every tile of the {split} split was rejected as background",
            hint="check that the images show fabric (not the machine background)",
        )
    log.info("%s split: %d images -> %d fabric tiles", split, len(items), len(tiles))
    return TileSet(
        tiles=np.ascontiguousarray(np.stack(tiles)),
        masks=np.stack(masks),
        class_index=np.asarray(class_index, dtype=np.int64),
        classes=tuple(names),
        image_index=np.asarray(image_index, dtype=np.int64),
        boxes=np.asarray(boxes, dtype=np.int64),
        items=items,
        fabric=np.stack(fabric),
    )

"""What a data-set layout yields: image items of one split, and the tiles cut from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class ImageItem:
    """One image of a split.

    Attributes:
        path: The image file.
        class_name: Fabric class (AITEX fabric code, MVTec class folder, ...).
        mask_paths: Ground-truth masks to union (empty for normal images).
        defect_type: ``"good"`` or the defect folder / code.
    """

    path: Path
    class_name: str
    mask_paths: tuple[Path, ...] = ()
    defect_type: str = "good"

    @property
    def is_defective(self) -> bool:
        return bool(self.mask_paths) or self.defect_type != "good"


@dataclass
class TileSet:
    """Tiles of one split, ready for a model.

    Attributes:
        tiles: uint8 [T, S, S, C].
        masks: bool [T, S, S] ground truth (all False for normal tiles).
        class_index: int64 [T], index into ``classes``.
        classes: Class names.
        image_index: int64 [T], which item each tile came from.
        boxes: int64 [T, 2], (x, y) of each tile in its image.
        items: The source items.
        fabric: bool [T, S, S], False on background pixels (beyond the web edge).
    """

    tiles: np.ndarray
    masks: np.ndarray
    class_index: np.ndarray
    classes: tuple[str, ...]
    image_index: np.ndarray
    boxes: np.ndarray
    items: list[ImageItem] = field(default_factory=list)
    fabric: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.tiles)

    @property
    def labels(self) -> np.ndarray:
        """Tile label: 1 where any ground-truth pixel lies inside the tile, [T] int64."""
        return self.masks.reshape(len(self.masks), -1).any(axis=1).astype(np.int64)

    def subset(self, keep: np.ndarray) -> TileSet:
        """A new TileSet with the tiles selected by index or boolean array."""
        return TileSet(
            tiles=self.tiles[keep],
            masks=self.masks[keep],
            class_index=self.class_index[keep],
            classes=self.classes,
            image_index=self.image_index[keep],
            boxes=self.boxes[keep],
            items=self.items,
            fabric=None if self.fabric is None else self.fabric[keep],
        )

"""The MVTec AD / ITDD layout and a plain folder of good images per class.

MVTec/ITDD: ``<class>/train/good/*``, ``<class>/test/<type>/*``,
``<class>/ground_truth/<type>/<name>_mask.png``. The last ``VAL_FRACTION`` of
each class's sorted training images is held out as the validation split
(normal images for calibration and checkpoint choice).

Folder: ``<class>/*`` good images only; split the same way (train / val);
it has no test split because it has no labels.
"""

from __future__ import annotations

from pathlib import Path

from training.data.images import list_images
from training.data.items import ImageItem
from training.errors import DataError

VAL_FRACTION = 0.15
MIN_VAL_IMAGES = 1


def _split_good(paths: list[Path], split: str) -> list[Path]:
    if len(paths) < 2:
        return paths if split == "train" else []
    held_out = max(MIN_VAL_IMAGES, round(len(paths) * VAL_FRACTION))
    return paths[:-held_out] if split == "train" else paths[-held_out:]


def class_folders(root: Path) -> list[str]:
    """Sub-folder names of ``root`` (the class names of both layouts)."""
    if not root.is_dir():
        raise DataError(f"data folder {root} does not exist", hint="check --data")
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def mvtec_items(root: Path, *, split: str, classes: list[str]) -> list[ImageItem]:
    """Items of one split of an MVTec/ITDD-layout folder.

    Raises:
        DataError: a class folder lacks ``train/good`` or a defect image lacks its mask.
    """
    items: list[ImageItem] = []
    for name in classes:
        class_root = Path(root) / name
        good = class_root / "train" / "good"
        if not good.is_dir():
            raise DataError(
                f"{good} is missing", hint="the MVTec layout needs <class>/train/good/ images"
            )
        if split in ("train", "val"):
            items += [ImageItem(p, name) for p in _split_good(list_images(good), split)]
            continue
        test_root = class_root / "test"
        if not test_root.is_dir():
            raise DataError(f"{test_root} is missing", hint="the test split needs <class>/test/")
        for type_folder in sorted(p for p in test_root.iterdir() if p.is_dir()):
            for image in list_images(type_folder):
                if type_folder.name == "good":
                    items.append(ImageItem(image, name))
                    continue
                mask = class_root / "ground_truth" / type_folder.name / f"{image.stem}_mask.png"
                if not mask.is_file():
                    raise DataError(
                        f"defect image {image} has no mask {mask}",
                        hint="add the mask (white on defect pixels) or remove the image",
                    )
                items.append(ImageItem(image, name, (mask,), type_folder.name))
    return items


def folder_items(root: Path, *, split: str, classes: list[str]) -> list[ImageItem]:
    """Items of a plain ``<class>/*.png`` folder of good images (train and val only)."""
    if split == "test":
        raise DataError(
            "the folder layout holds good images only, so it has no test split",
            hint="evaluate on an mvtec- or aitex-layout folder with defect masks",
        )
    items: list[ImageItem] = []
    for name in classes:
        images = list_images(Path(root) / name)
        items += [ImageItem(p, name) for p in _split_good(images, split)]
    return items

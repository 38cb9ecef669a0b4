"""The AITEX Fabric Image Database layout and the project's standard split.

Layout (see ../shared/datasets/README.md): ``NODefect_images/<roll>/NNNN_000_FF.png``,
``Defect_images/NNNN_DDD_FF.png``, ``Mask_images/NNNN_DDD_FF_mask.png`` (or
``_mask1``/``_mask2``, unioned). Classes are fabric codes FF.

Split, per fabric, defect-free strips sorted by name: 1-14 train, 15-16 val,
17-20 test normal; all defect strips of the fabric are test defective.
"""

from __future__ import annotations

import re
from pathlib import Path

from training.data.images import list_images
from training.data.items import ImageItem
from training.errors import DataError

NAME_PATTERN = re.compile(r"^(\d{4})_(\d{3})_(\d{2})$")
TRAIN_COUNT, VAL_COUNT = 14, 2


def _fabric_code(path: Path) -> str | None:
    match = NAME_PATTERN.match(path.stem)
    return match.group(3) if match else None


def aitex_classes(root: Path) -> list[str]:
    """Fabric codes with defect-free strips under ``root``."""
    normal_root = root / "NODefect_images"
    if not normal_root.is_dir():
        raise DataError(
            f"{root} is not an AITEX folder: {normal_root} is missing",
            hint="point --data at the folder holding NODefect_images/, Defect_images/ "
            "and Mask_images/, or choose another --layout",
        )
    codes = {
        code for path in normal_root.glob("*/*.png") if (code := _fabric_code(path)) is not None
    }
    return sorted(codes)


def _masks_for(root: Path, strip: Path) -> tuple[Path, ...]:
    mask_root = root / "Mask_images"
    single = mask_root / f"{strip.stem}_mask.png"
    if single.is_file():
        return (single,)
    numbered = tuple(sorted(mask_root.glob(f"{strip.stem}_mask[0-9].png")))
    return numbered


def aitex_items(root: Path, *, split: str, classes: list[str]) -> list[ImageItem]:
    """Items of one split for the given fabric codes.

    Raises:
        DataError: the folder is not in the AITEX layout, or a defect strip has no mask.
    """
    root = Path(root)
    normal_by_class: dict[str, list[Path]] = {code: [] for code in classes}
    for folder in sorted((root / "NODefect_images").iterdir()):
        if folder.is_dir():
            for path in list_images(folder):
                code = _fabric_code(path)
                if code in normal_by_class:
                    normal_by_class[code].append(path)
    items: list[ImageItem] = []
    for code in classes:
        strips = sorted(normal_by_class[code], key=lambda p: p.name)
        if split == "train":
            chosen = strips[:TRAIN_COUNT]
        elif split == "val":
            chosen = strips[TRAIN_COUNT : TRAIN_COUNT + VAL_COUNT]
        else:
            chosen = strips[TRAIN_COUNT + VAL_COUNT :]
        items += [ImageItem(path=p, class_name=code) for p in chosen]
        if split == "test":
            if not (root / "Defect_images").is_dir():
                raise DataError(
                    f"{root} has no Defect_images/ folder, so its test split has no defects",
                    hint="use the complete AITEX folder (Defect_images/ and Mask_images/)",
                )
            for strip in list_images(root / "Defect_images"):
                if _fabric_code(strip) != code:
                    continue
                masks = _masks_for(root, strip)
                if not masks:
                    raise DataError(
                        f"defect strip {strip.name} has no mask in {root / 'Mask_images'}",
                        hint=f"add {strip.stem}_mask.png or remove the strip",
                    )
                defect = NAME_PATTERN.match(strip.stem).group(2)  # type: ignore[union-attr]
                items.append(
                    ImageItem(path=strip, class_name=code, mask_paths=masks, defect_type=defect)
                )
    return items

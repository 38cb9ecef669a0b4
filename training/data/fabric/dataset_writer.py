"""Writing a small synthetic fabric data set in the MVTec AD layout.

Layout (one folder per fabric class)::

    <root>/<class>/train/good/000.png
    <root>/<class>/test/good/000.png
    <root>/<class>/test/<kind>/000.png
    <root>/<class>/ground_truth/<kind>/000_mask.png      (255 on defect pixels, else 0)
    <root>/fabric_manifest.json                          (how it was made)

Each class has four rolls of its fabric style (four seeds); every tile is cut
from a random stretch of one of them.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
from PIL import Image

from training.data.fabric.errors import FabricDatasetError, FabricRenderError
from training.data.fabric.planting import check_kinds, plant_defects
from training.data.fabric.style import FabricStyle, preset
from training.data.fabric.weave import check_block_request, render_fabric

MANIFEST_NAME = "fabric_manifest.json"
_ROLLS_PER_CLASS = 4


def _resolve_classes(
    classes: Mapping[str, FabricStyle] | Sequence[str],
) -> dict[str, FabricStyle]:
    if isinstance(classes, Mapping):
        resolved = dict(classes)
    elif isinstance(classes, str):
        resolved = {classes: preset(classes)}
    else:
        resolved = {name: preset(name) for name in classes}
    if not resolved:
        raise FabricRenderError("no classes to write", hint="name at least one fabric preset")
    for name, style in resolved.items():
        if not isinstance(style, FabricStyle):
            raise FabricRenderError(
                f"class {name!r} is a {type(style).__name__}, not a FabricStyle",
                hint="map class names to FabricStyle objects, or pass a list of preset names",
            )
        if not name or Path(name).name != name or name.startswith("."):
            raise FabricRenderError(
                f"class name {name!r} cannot be a folder name", hint="use a plain name like 'denim'"
            )
    return resolved


def _save_png(path: Path, pixels: np.ndarray) -> None:
    Image.fromarray(pixels).save(path, compress_level=1)


def write_mvtec_dataset(
    root: str | Path,
    *,
    classes: Mapping[str, FabricStyle] | Sequence[str],
    tile_px: int = 256,
    n_train: int = 40,
    n_test_good: int = 10,
    n_test_defect: int = 18,
    seed: int = 0,
    kinds: Sequence[str] | None = None,
    channels: int = 1,
    defect_scale: float = 1.0,
    overwrite: bool = False,
) -> Path:
    """Write a deterministic synthetic data set in the MVTec AD layout.

    Args:
        root: Output folder (created).
        classes: Class name -> style, or a list of preset names (e.g. ``GREY_PRESETS``).
        tile_px: Tile side, pixels (>= 16).
        n_train: Defect-free training tiles per class.
        n_test_good: Defect-free test tiles per class.
        n_test_defect: Defective test tiles per class, spread over ``kinds`` in turn
            (one defect per tile).
        seed: Same seed, arguments and code -> the same files.
        kinds: Defect kinds (None: all).
        channels: 1 (grey PNG) or 3 (RGB PNG).
        defect_scale: Size multiplier of compact defects.
        overwrite: Replace class folders that already exist under ``root``.

    Returns:
        ``root`` as a Path.

    Raises:
        FabricDatasetError: a class folder exists and is not empty (and not ``overwrite``),
            or ``root`` cannot be written.
        FabricRenderError / FabricStyleError: bad sizes, counts, kinds or class names.
    """
    styles = _resolve_classes(classes)
    kinds = check_kinds(kinds)
    for name, value in (("n_train", n_train), ("n_test_good", n_test_good),
                        ("n_test_defect", n_test_defect)):  # fmt: skip
        if not isinstance(value, int) or value < 0:
            raise FabricRenderError(
                f"{name} must be an integer >= 0 (got {value!r})",
                hint=f"pass {name}=0 to write no such tiles, or a positive count",
            )
    if not isinstance(tile_px, int) or tile_px < 16:
        raise FabricRenderError(
            f"tile_px must be an integer >= 16 (got {tile_px!r})",
            hint="use the tile size the model trains on, e.g. tile_px=256",
        )
    check_block_request(height_px=tile_px, width_px=tile_px, first_line=0, channels=channels)
    if not isinstance(defect_scale, int | float) or not 0.05 <= defect_scale <= 20:
        raise FabricRenderError(
            f"defect_scale must be from 0.05 to 20 (got {defect_scale!r})",
            hint="1.0 suits 256-pixel tiles; use 0.5 for smaller, 2 for larger defects",
        )
    root = Path(root)
    for name in styles:
        folder = root / name
        if folder.exists() and any(folder.iterdir()) and not overwrite:
            raise FabricDatasetError(
                f"{folder} already exists and is not empty",
                hint="choose another root, delete the folder, or pass overwrite=True",
            )
    try:
        root.mkdir(parents=True, exist_ok=True)
        for class_index, (name, style) in enumerate(styles.items()):
            if (root / name).exists():
                shutil.rmtree(root / name)
            _write_class(root / name, style, np.random.default_rng([seed, class_index]),
                         tile_px=tile_px, n_train=n_train, n_test_good=n_test_good,
                         n_test_defect=n_test_defect, kinds=kinds, channels=channels,
                         defect_scale=defect_scale)  # fmt: skip
        manifest = {
            "generator": "training.data.fabric.write_mvtec_dataset",
            "seed": seed, "tile_px": tile_px, "channels": channels, "kinds": list(kinds),
            "n_train": n_train, "n_test_good": n_test_good, "n_test_defect": n_test_defect,
            "defect_scale": defect_scale,
            "classes": {name: asdict(style) for name, style in styles.items()},
        }  # fmt: skip
        (root / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
    except OSError as error:
        raise FabricDatasetError(
            f"cannot write the data set under {root}: {error}",
            hint="check the folder's permissions and free disk space",
        ) from None
    return root


def _write_class(
    folder: Path,
    style: FabricStyle,
    rng: np.random.Generator,
    *,
    tile_px: int,
    n_train: int,
    n_test_good: int,
    n_test_defect: int,
    kinds: tuple[str, ...],
    channels: int,
    defect_scale: float,
) -> None:
    # A few rolls per class, tiles from random stretches of them: a camera column sees
    # the same warp yarns all along a roll, and reusing rolls keeps their tables cached.
    roll_seeds = [int(s) for s in rng.integers(0, 2**62, size=_ROLLS_PER_CLASS)]

    def next_tile() -> np.ndarray:
        return render_fabric(
            style,
            height_px=tile_px,
            width_px=tile_px,
            first_line=int(rng.integers(0, 10_000_000)),
            seed=roll_seeds[int(rng.integers(0, _ROLLS_PER_CLASS))],
            channels=channels,
        )

    for split, count in (("train", n_train), ("test", n_test_good)):
        good = folder / split / "good"
        good.mkdir(parents=True, exist_ok=True)
        for index in range(count):
            _save_png(good / f"{index:03d}.png", next_tile())
    per_kind: dict[str, int] = {}
    for index in range(n_test_defect):
        kind = kinds[index % len(kinds)]
        number = per_kind.get(kind, 0)
        per_kind[kind] = number + 1
        planted = plant_defects(next_tile(), rng=rng, kinds=[kind], scale=defect_scale)
        (folder / "test" / kind).mkdir(parents=True, exist_ok=True)
        (folder / "ground_truth" / kind).mkdir(parents=True, exist_ok=True)
        _save_png(folder / "test" / kind / f"{number:03d}.png", planted.image)
        mask = planted.mask.astype(np.uint8) * 255
        _save_png(folder / "ground_truth" / kind / f"{number:03d}_mask.png", mask)

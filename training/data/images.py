"""Reading images and masks from disk with clear errors.

Real fabric files have quirks (AITEX: grey + alpha PNGs, strips narrower than
the rest, soft mask edges). Everything that reads pixels goes through here so
the quirks are handled once.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from training.errors import MaskMismatchError, UnreadableImageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
# AITEX masks have anti-aliased edges: a pixel is defective above this value.
MASK_THRESHOLD = 127


def _open(path: Path) -> Image.Image:
    if not path.is_file():
        raise UnreadableImageError(f"image {path} does not exist", hint="check the path")
    try:
        image = Image.open(path)
        image.load()
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise UnreadableImageError(
            f"cannot decode image {path}: {error}",
            hint="the file is corrupt or not an image; replace it or remove it from the folder",
        ) from None
    return image


def read_image(path: str | Path, *, channels: int = 1) -> np.ndarray:
    """Read an image as a new, writable uint8 array: grey [H, W] or RGB [H, W, 3].

    Alpha is dropped, 16-bit images are scaled to 8 bits, palette images expanded.

    Raises:
        UnreadableImageError: the file is missing, empty or cannot be decoded.
    """
    path = Path(path)
    image = _open(path)
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array16 = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if array16.max() > 255 else 255.0
        image = Image.fromarray(np.clip(array16 * 255.0 / peak, 0, 255).astype(np.uint8))
    target = "L" if channels == 1 else "RGB"
    array = np.array(image.convert(target), dtype=np.uint8)  # a writable copy
    if array.size == 0:
        raise UnreadableImageError(f"image {path} is empty", hint="replace or remove the file")
    return np.ascontiguousarray(array)


def read_mask(path: str | Path, *, expected_shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read a ground-truth mask as bool [H, W] (defective where value > 127).

    Raises:
        UnreadableImageError: the file cannot be decoded.
        MaskMismatchError: the mask's size differs from ``expected_shape``.
    """
    mask = read_image(path, channels=1) > MASK_THRESHOLD
    if expected_shape is not None and mask.shape != tuple(expected_shape):
        raise MaskMismatchError(
            f"mask {path} is {mask.shape[1]}x{mask.shape[0]} pixels but its image is "
            f"{expected_shape[1]}x{expected_shape[0]}",
            hint="masks must have exactly the size of their image; re-export the mask",
        )
    return mask


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name (hidden files skipped)."""
    folder = Path(folder)
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )

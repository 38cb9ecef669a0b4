"""A small folder in the AITEX layout, made of generated fabric (no real data needed)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from tests.unit.pipeline.helpers import fabric

LINES, WIDTH = 96, 320
FABRIC = "01"


def write_aitex_like(root: Path) -> Path:
    """NODefect_images/<roll>/NNNN_000_01.png x 17, Defect_images/ and Mask_images/ x 2.

    With 17 defect-free strips the project's split puts one (the 17th) in the test
    split, next to the two defect strips (a dark 20 x 40 px patch, masked).

    Returns:
        ``root``.
    """
    roll = root / "NODefect_images" / "roll-01"
    for folder in (roll, root / "Defect_images", root / "Mask_images"):
        folder.mkdir(parents=True)
    for index in range(17):
        image = fabric(LINES, WIDTH, seed=index)
        cv2.imwrite(str(roll / f"{index:04d}_000_{FABRIC}.png"), image)
    for index in range(2):
        image = fabric(LINES, WIDTH, seed=100 + index)
        image[30:50, 100:140] = 30
        mask = np.zeros_like(image)
        mask[30:50, 100:140] = 255
        cv2.imwrite(str(root / "Defect_images" / f"{index:04d}_002_{FABRIC}.png"), image)
        cv2.imwrite(str(root / "Mask_images" / f"{index:04d}_002_{FABRIC}_mask.png"), mask)
    return root

"""Contact sheet of the procedural fabrics and defects, and how fast they render.

Writes a PNG with (1) every fabric preset, (2) every defect kind on two fabrics
with its mask outlined in red, (3) a stretch of an endless web with defects, and
prints a timing table. The station needs a 4096 x 256 line block in well under
50 ms (5,000 lines/s) on one core.

    python benchmarks/fabric_preview.py                 # writes out/fabric_preview.png
    python benchmarks/fabric_preview.py --out /tmp/x.png --repeats 30
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from training.data.fabric import (
    DEFECT_KINDS,
    FABRIC_PRESETS,
    GREY_PRESETS,
    FabricWeb,
    plant_defects,
    render_fabric,
    write_mvtec_dataset,
)
from training.data.fabric.weave_tables import across_tables, noise_texture

TILE_PX = 160
LABEL_PX = 14
LINE_RATE_HZ = 5000.0
CAMERA_WIDTH_PX = 4096
BLOCK_LINES = 256


def _rgb(image: np.ndarray) -> np.ndarray:
    return np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image


def _outline(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """RGB copy of ``image`` with the mask's border drawn in red."""
    padded = np.pad(mask, 1)
    inner = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    border = mask & ~inner
    out = _rgb(image).copy()
    out[border] = (255, 0, 0)
    return out


def _labelled(image: np.ndarray, text: str) -> np.ndarray:
    canvas = Image.new("RGB", (image.shape[1], image.shape[0] + LABEL_PX), "white")
    canvas.paste(Image.fromarray(_rgb(image)), (0, LABEL_PX))
    ImageDraw.Draw(canvas).text((2, 1), text, fill="black")
    return np.asarray(canvas)


def _row(tiles: list[np.ndarray], gap_px: int = 4) -> np.ndarray:
    height = max(t.shape[0] for t in tiles)
    spacer = np.full((height, gap_px, 3), 255, np.uint8)
    padded = [
        np.pad(t, ((0, height - t.shape[0]), (0, 0), (0, 0)), constant_values=255) for t in tiles
    ]
    return np.concatenate([x for t in padded for x in (t, spacer)][:-1], axis=1)


def _stack(rows: list[np.ndarray], gap_px: int = 8) -> np.ndarray:
    width = max(r.shape[1] for r in rows)
    blocks = []
    for r in rows:
        blocks.append(
            np.pad(r, ((0, gap_px), (0, width - r.shape[1]), (0, 0)), constant_values=255)
        )
    return np.concatenate(blocks, axis=0)


def contact_sheet() -> np.ndarray:
    """Presets, every defect kind on three fabrics (plain and outlined), a web stretch."""
    presets = []
    for name, style in FABRIC_PRESETS.items():
        channels = 1 if name in GREY_PRESETS else 3
        tile = render_fabric(style, height_px=TILE_PX, width_px=TILE_PX, seed=3, channels=channels)
        presets.append(_labelled(tile, name))
    rows = [_row(presets)]
    for fabric_index, (fabric, channels) in enumerate(
        (("fine_twill", 1), ("dark_plain", 1), ("denim", 3))
    ):
        plain, outlined = [], []
        for index, kind in enumerate(DEFECT_KINDS):
            base = render_fabric(
                FABRIC_PRESETS[fabric], height_px=TILE_PX, width_px=TILE_PX,
                first_line=10_000 * index, seed=5, channels=channels,
            )  # fmt: skip
            rng = np.random.default_rng([fabric_index, index])
            planted = plant_defects(base, rng=rng, kinds=[kind])
            plain.append(_labelled(planted.image, f"{kind} ({fabric})"))
            outlined.append(_labelled(_outline(planted.image, planted.mask), "mask outline"))
        rows += [_row(plain), _row(outlined)]
    width = rows[0].shape[1]
    web = FabricWeb(FABRIC_PRESETS["grey_twill"], width_px=width, seed=8, defects_per_metre=25.0)
    block = web.block_at(2000, 480)
    kinds = ", ".join(sorted({d.kind for d in block.defects}))
    rows.append(_labelled(block.pixels, f"FabricWeb grey_twill, lines 2000-2480: {kinds}"))
    rows.append(_labelled(_outline(block.pixels, block.mask), "the same with mask outlines"))
    return _stack(rows)


def _median_ms(action: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)


def timing_table(repeats: int) -> list[tuple[str, float, str]]:
    """(what, milliseconds, note) rows, all measured in this run."""
    style = FABRIC_PRESETS["grey_twill"]
    rows = []
    across_tables.cache_clear()
    noise_texture.cache_clear()
    start = time.perf_counter()
    render_fabric(style, height_px=BLOCK_LINES, width_px=CAMERA_WIDTH_PX, seed=1)
    rows.append(
        (
            "first block (builds per-fabric tables)",
            1000 * (time.perf_counter() - start),
            "once per fabric/seed",
        )
    )
    budget_ms = 1000.0 * BLOCK_LINES / LINE_RATE_HZ
    line = iter(range(BLOCK_LINES, 10**9, BLOCK_LINES))
    for channels in (1, 3):
        ms = _median_ms(
            lambda c=channels: render_fabric(
                style, height_px=BLOCK_LINES, width_px=CAMERA_WIDTH_PX, first_line=next(line),
                seed=1, channels=c,
            ),
            repeats,
        )  # fmt: skip
        label = f"render_fabric 4096x256 {'grey' if channels == 1 else 'RGB'}"
        rows.append((label, ms, f"{ms / budget_ms:.2f} of the {budget_ms:.0f} ms budget at 5 kHz"))
    web = FabricWeb(style, width_px=CAMERA_WIDTH_PX, seed=1, defects_per_metre=20.0)
    web.next_block(BLOCK_LINES)
    ms = _median_ms(lambda: web.next_block(BLOCK_LINES), repeats)
    rows.append(("FabricWeb.next_block(256), 20 defects/m", ms, f"{ms / budget_ms:.2f} of budget"))
    tile = render_fabric(style, height_px=256, width_px=256, seed=2)
    rng = np.random.default_rng(0)
    ms = _median_ms(lambda: plant_defects(tile, rng=rng), repeats)
    rows.append(("plant_defects, one defect on 256x256", ms, "random kind"))
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        write_mvtec_dataset(
            Path(folder) / "demo", classes=GREY_PRESETS, n_train=40, n_test_good=10,
            n_test_defect=18, seed=0,
        )  # fmt: skip
        rows.append(
            (
                "write_mvtec_dataset demo: 4 classes x 68 tiles",
                1000 * (time.perf_counter() - start),
                "256 px PNGs",
            )
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/fabric_preview.png"))
    parser.add_argument("--repeats", type=int, default=20, help="timed runs per row (median)")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(contact_sheet()).save(args.out)
    print(f"contact sheet: {args.out}")
    print(f"{'what':<48} {'ms':>9}  note")
    for what, ms, note in timing_table(args.repeats):
        print(f"{what:<48} {ms:>9.1f}  {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

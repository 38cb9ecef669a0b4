"""Which image files a replay plays, in which order, and how wide its lines are."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from station.acquisition.config import ReplayConfig
from training.public import IMAGE_SUFFIXES, ConfigError, list_images

AITEX_NORMAL_FOLDER = "NODefect_images"
AITEX_DEFECT_FOLDER = "Defect_images"


def _aitex_fabric_code(path: Path) -> str:
    """AITEX names strips NNNN_DDD_FF.png; FF is the fabric code."""
    return path.stem.split("_")[-1]


def aitex_strips(root: Path, *, subset: str, fabric: str | None) -> list[Path]:
    """AITEX strips of one subset (normal, defective or all), each part sorted by name.

    Raises:
        ConfigError: ``root`` does not have the AITEX layout, or nothing matches.
    """
    normal_dir, defect_dir = root / AITEX_NORMAL_FOLDER, root / AITEX_DEFECT_FOLDER
    if not normal_dir.is_dir() or not defect_dir.is_dir():
        raise ConfigError(
            f"replay.aitex_root: {root} does not have the AITEX layout "
            f"({AITEX_NORMAL_FOLDER}/<roll>/*.png and {AITEX_DEFECT_FOLDER}/*.png)",
            hint="point replay.aitex_root at the AITEX folder (e.g. ../shared/datasets/aitex)",
        )
    strips: list[Path] = []
    if subset in ("normal", "all"):
        strips += sorted(
            (
                p
                for roll in sorted(normal_dir.iterdir())
                if roll.is_dir()
                for p in list_images(roll)
            ),
            key=lambda p: p.name,
        )
    if subset in ("defective", "all"):
        strips += list_images(defect_dir)
    if fabric is not None:
        strips = [p for p in strips if _aitex_fabric_code(p) == fabric]
    if not strips:
        codes = sorted({_aitex_fabric_code(p) for p in list_images(defect_dir)})
        raise ConfigError(
            f"replay.aitex_fabric: no {subset} AITEX strips of fabric {fabric!r} in {root}",
            hint="use one of the fabric codes present: " + ", ".join(codes),
        )
    return strips


def resolve_replay_files(config: ReplayConfig) -> list[Path]:
    """The files to play: ``paths`` in the given order (folders expanded), then AITEX strips.

    Raises:
        ConfigError: a path does not exist, is not an image, or nothing is left to play.
    """
    files: list[Path] = []
    for index, path in enumerate(config.paths):
        if path.is_dir():
            found = list_images(path)
            if not found:
                raise ConfigError(
                    f"replay.paths[{index}]: folder {path} holds no images",
                    hint="image files must end in " + ", ".join(IMAGE_SUFFIXES),
                )
            files += found
        elif path.is_file():
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                raise ConfigError(
                    f"replay.paths[{index}]: {path} is not an image file",
                    hint="give image files ending in " + ", ".join(IMAGE_SUFFIXES),
                )
            files.append(path)
        else:
            raise ConfigError(
                f"replay.paths[{index}]: {path} does not exist",
                hint="give existing image files or folders",
            )
    if config.aitex_root is not None:
        files += aitex_strips(
            config.aitex_root, subset=config.aitex_set, fabric=config.aitex_fabric
        )
    return files


def image_width(path: Path) -> int | None:
    """Width in pixels from the file header (no decoding), or None if unreadable."""
    try:
        with Image.open(path) as image:
            return int(image.size[0])
    except Exception:
        return None


def line_width(config: ReplayConfig, files: list[Path]) -> int:
    """The replay's line width: ``config.width_px`` or the first readable image's width.

    With ``width_mismatch: error`` every image must already have that width.

    Raises:
        ConfigError: no image is readable, or widths differ and mismatches are an error.
    """
    width = config.width_px
    if width is None:
        width = next((w for w in map(image_width, files) if w is not None), None)
        if width is None:
            raise ConfigError(
                "replay: none of the images can be read",
                hint="check that the files are valid images",
            )
    if config.width_mismatch == "error":
        wrong = [(p, w) for p in files if (w := image_width(p)) is not None and w != width]
        if wrong:
            shown = ", ".join(f"{p.name} ({w} px)" for p, w in wrong[:5])
            raise ConfigError(
                f"replay.width_mismatch: {len(wrong)} image(s) are not {width} px wide: {shown}",
                hint="set replay.width_mismatch: pad to pad/crop them, or remove those files",
            )
    return width

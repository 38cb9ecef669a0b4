"""QA feedback as training data: crops reviewed in the QA app, read from a manifest.

The station exports reviewed defect crops (``station train --normals-from-store``
and ``--validation-from-store``, :mod:`station.store.training_feedback`) into a
folder with a ``manifest.json``; training reads only that plain file, never the
store. The manifest is::

    {"source": {...recorded in the training report as is...},
     "crops": [{"path": "grey_twill/<defect key>.png", "fabric": "grey_twill"}, ...]}

with paths relative to the manifest's folder. ``fabric`` must name a training
class: the crop joins (or is scored as) fabric of that class.

Each crop becomes **one tile** of ``tile_px`` centred on the crop, which is
centred on the defect the station found: a larger crop is cut to its middle, a
smaller one is mirrored outwards at its edges (reflection padding) to the tile
size. A tile that is mostly background (the rule of
:func:`training.data.tiling.background_mask`) is skipped and counted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from training.cras.model import CrasModel
from training.data.images import read_image
from training.data.items import ImageItem, TileSet
from training.data.tiling import DEFAULT_MAX_BACKGROUND, background_mask
from training.errors import ConfigError, DataError
from training.features import cached_features
from training.model_metadata import Calibration
from training.validation import score_cached


@dataclass
class CropSet:
    """Tiles made from the crops of one manifest.

    Attributes:
        tiles: The crops as one tile each (masks all False: no pixel truth).
        source: The manifest's ``source`` block (for the training report).
        skipped_background: Crops skipped because their tile is mostly background.
    """

    tiles: TileSet
    source: dict = field(default_factory=dict)
    skipped_background: int = 0

    def report(self) -> dict:
        """What the training report records about this set."""
        return dict(self.source, tiles=len(self.tiles), skipped_background=self.skipped_background)


def centred_tile(image: np.ndarray, tile_px: int) -> np.ndarray:
    """The ``tile_px`` square at the centre of ``image``, mirrored outwards where it is smaller.

    Args:
        image: uint8 [H, W] or [H, W, C].

    Returns:
        uint8 [tile_px, tile_px] or [tile_px, tile_px, C].
    """
    height, width = image.shape[:2]
    pad_y, pad_x = max(0, tile_px - height), max(0, tile_px - width)
    if pad_y or pad_x:
        # numpy mirrors repeatedly where the padding is wider than the image.
        widths = [(pad_y // 2, pad_y - pad_y // 2), (pad_x // 2, pad_x - pad_x // 2)]
        image = np.pad(image, widths + [(0, 0)] * (image.ndim - 2), mode="reflect")
    height, width = image.shape[:2]
    top, left = (height - tile_px) // 2, (width - tile_px) // 2
    return np.ascontiguousarray(image[top : top + tile_px, left : left + tile_px])


def read_manifest(path: Path) -> tuple[dict, list[tuple[Path, str]]]:
    """The ``source`` block and the ``(crop file, fabric)`` pairs of a manifest.

    Raises:
        DataError: the file is missing or not a manifest.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        crops = [(Path(path).parent / c["path"], str(c["fabric"])) for c in data["crops"]]
        source = dict(data.get("source") or {})
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DataError(
            f"cannot read the QA feedback manifest {path}: {error}",
            hint="export it again (station train --normals-from-store / --validation-from-store)",
        ) from None
    return source, crops


def read_crop_set(
    manifest: Path,
    *,
    classes: tuple[str, ...],
    tile_px: int,
    channels: int,
    max_background: float = DEFAULT_MAX_BACKGROUND,
) -> CropSet:
    """One tile per crop of a manifest, labelled with its fabric's class index.

    Raises:
        DataError: the manifest is unreadable or lists no crops, or a crop cannot be read.
        ConfigError: a crop's fabric is not one of the training classes.
    """
    source, crops = read_manifest(manifest)
    if not crops:
        raise DataError(f"the QA feedback manifest {manifest} lists no crops", hint="export again")
    unknown = sorted({fabric for _, fabric in crops if fabric not in classes})
    if unknown:
        raise ConfigError(
            f"QA feedback crops of fabric {', '.join(unknown)} match no training class "
            f"(classes: {', '.join(classes)})",
            hint="pass --fabric with the articles that are classes of the training data",
        )
    tiles, fabric_masks, class_index, items = [], [], [], []
    skipped = 0
    for path, fabric in crops:
        tile = centred_tile(read_image(path, channels=channels), tile_px)
        background = background_mask(tile)
        if background.mean() > max_background:
            skipped += 1
            continue
        tiles.append(tile if tile.ndim == 3 else tile[..., None])
        fabric_masks.append(~background)
        class_index.append(classes.index(fabric))
        items.append(ImageItem(path=path, class_name=fabric))
    if not tiles:
        raise DataError(
            f"every crop in {manifest} is mostly background ({skipped} skipped)",
            hint="these crops show no fabric; check the articles passed with --fabric",
        )
    count = len(tiles)
    tile_set = TileSet(
        tiles=np.stack(tiles),
        masks=np.zeros((count, tile_px, tile_px), dtype=bool),
        class_index=np.asarray(class_index, dtype=np.int64),
        classes=classes,
        image_index=np.arange(count, dtype=np.int64),
        boxes=np.zeros((count, 2), dtype=np.int64),
        items=items,
        fabric=np.stack(fabric_masks),
    )
    return CropSet(tiles=tile_set, source=source, skipped_background=skipped)


def add_normals(train: TileSet, extra: TileSet) -> TileSet:
    """The training tiles followed by the extra good-fabric tiles (their items appended)."""
    offset = len(train.items)
    return TileSet(
        tiles=np.concatenate([train.tiles, extra.tiles]),
        masks=np.concatenate([train.masks, extra.masks]),
        class_index=np.concatenate([train.class_index, extra.class_index]),
        classes=train.classes,
        image_index=np.concatenate([train.image_index, extra.image_index + offset]),
        boxes=np.concatenate([train.boxes, extra.boxes]),
        items=[*train.items, *extra.items],
        fabric=np.concatenate([train.fabric, extra.fabric]),
    )


@dataclass
class QaFeedback:
    """The QA feedback a training run uses (either part may be absent).

    Attributes:
        normals: Crops QA marked false alarm, trained on as good fabric of their class.
        confirmed: Crops QA confirmed as defects, scored at every validation.
    """

    normals: CropSet | None = None
    confirmed: CropSet | None = None

    @classmethod
    def read(
        cls,
        *,
        extra_normals: Path | None,
        confirmed_defects: Path | None,
        classes: tuple[str, ...],
        tile_px: int,
        channels: int,
    ) -> QaFeedback:
        """Read the manifests a :class:`~training.config.TrainConfig` names (None: not used)."""

        def read(manifest: Path | None) -> CropSet | None:
            if manifest is None:
                return None
            return read_crop_set(manifest, classes=classes, tile_px=tile_px, channels=channels)

        return cls(normals=read(extra_normals), confirmed=read(confirmed_defects))

    def report(
        self,
        *,
        confirmed_tile_scores: np.ndarray | None = None,
        confirmed_peak_scores: np.ndarray | None = None,
        tile_threshold: float | None = None,
        pixel_threshold: float | None = None,
    ) -> dict | None:
        """The training report's ``qa_feedback`` block (None when no feedback was used).

        With the chosen model's scores of the confirmed crops and the calibrated
        thresholds, it also says how many of them the model still flags: an
        image-level check of the calibration (it cannot set a pixel threshold, the
        crops having no pixel masks).
        """
        if self.normals is None and self.confirmed is None:
            return None
        block: dict = {}
        if self.normals is not None:
            block["extra_normals"] = self.normals.report()
        if self.confirmed is not None:
            confirmed = self.confirmed.report()
            if confirmed_tile_scores is not None and tile_threshold is not None:
                confirmed["above_tile_threshold"] = int(
                    (confirmed_tile_scores > tile_threshold).sum()
                )
            if confirmed_peak_scores is not None and pixel_threshold is not None:
                confirmed["above_pixel_threshold"] = int(
                    (confirmed_peak_scores > pixel_threshold).sum()
                )
            block["confirmed_defects"] = confirmed
        return block

    def confirmed_features(
        self, model: CrasModel, *, weights_sha256: str, cache_dir: Path, progress: bool
    ) -> torch.Tensor | None:
        """Raw backbone features of the confirmed crops (cached), or None without them."""
        if self.confirmed is None:
            return None
        return cached_features(
            model,
            self.confirmed.tiles,
            weights_sha256=weights_sha256,
            cache_dir=cache_dir,
            desc="confirmed-defect features",
            progress=progress,
        )

    def final_report(
        self, model: CrasModel, raw_confirmed: torch.Tensor | None, calibration: Calibration
    ) -> dict | None:
        """:meth:`report` with the chosen model's scores of the confirmed crops."""
        if raw_confirmed is None or self.confirmed is None:
            return self.report()
        scores, maps, _ = score_cached(model, raw_confirmed)
        peaks = (maps * self.confirmed.tiles.fabric).reshape(len(maps), -1).max(axis=1)
        return self.report(
            confirmed_tile_scores=scores,
            confirmed_peak_scores=peaks,
            tile_threshold=calibration.tile_threshold,
            pixel_threshold=calibration.pixel_threshold,
        )

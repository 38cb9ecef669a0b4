"""Scoring cached features, and the validation set used to choose a checkpoint.

A product must pick its checkpoint without test labels (CRAS.md section 8).
The validation split holds defect-free tiles only, so we add *held-out
synthetic defects*: a copy of every validation tile with defects planted by
the procedural generator (holes, stains, broken ends and picks, knots, ...).
Training never sees any defect, real or synthetic, so these are an honest
stand-in for unseen defects; the checkpoint with the best mean of tile
I-AUROC and pixel P-AUROC on them is kept. Defects QA confirmed on the line
can join them (``station train --validation-from-store``; see
:func:`validation_figures`).
"""

from __future__ import annotations

import numpy as np
import torch

from training.cras.model import CrasModel
from training.data.fabric import plant_defects
from training.data.items import TileSet
from training.devices import model_device
from training.metrics import auroc


def with_planted_defects(normal: TileSet, *, seed: int, defects_per_tile: int = 1) -> TileSet:
    """Validation normals plus one copy of each with synthetic defects planted.

    Returns:
        A TileSet of 2T tiles: the originals (label 0), then the copies with masks.
    """
    rng = np.random.default_rng(seed)
    tiles, masks = [], []
    for tile, fabric in zip(normal.tiles, normal.fabric, strict=True):
        planted = plant_defects(
            tile[..., 0] if tile.shape[-1] == 1 else tile, rng=rng, count=defects_per_tile
        )
        image = planted.image[..., None] if planted.image.ndim == 2 else planted.image
        tiles.append(image)
        masks.append(planted.mask & fabric)
    planted_set = TileSet(
        tiles=np.stack(tiles),
        masks=np.stack(masks),
        class_index=normal.class_index,
        classes=normal.classes,
        image_index=normal.image_index,
        boxes=normal.boxes,
        items=normal.items,
        fabric=normal.fabric,
    )
    keep_defective = planted_set.labels == 1
    return concat_tilesets(normal, planted_set.subset(keep_defective))


def concat_tilesets(first: TileSet, second: TileSet) -> TileSet:
    """Two tile sets of the same classes, one after the other."""
    return TileSet(
        tiles=np.concatenate([first.tiles, second.tiles]),
        masks=np.concatenate([first.masks, second.masks]),
        class_index=np.concatenate([first.class_index, second.class_index]),
        classes=first.classes,
        image_index=np.concatenate([first.image_index, second.image_index]),
        boxes=np.concatenate([first.boxes, second.boxes]),
        items=first.items,
        fabric=np.concatenate([first.fabric, second.fabric]),
    )


@torch.no_grad()
def score_cached(
    model: CrasModel, raw_features: torch.Tensor, *, batch_size: int = 32
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run the trainable part of the model on cached raw features (eval mode).

    Args:
        raw_features: fp16 [T, N, D] from :func:`training.features.extract_features`,
            on any device (each batch is moved to the model's).

    Returns:
        ``(tile_scores float32 [T], anomaly_maps float32 [T, S, S], matched_class int64 [T])``.
    """
    was_training = model.training
    model.eval()
    device = model_device(model)
    scores, maps, matched = [], [], []
    for start in range(0, len(raw_features), batch_size):
        batch = raw_features[start : start + batch_size].to(device)
        out = model.score_embedded(model.standardise(batch))
        scores.append(out.tile_score.cpu().numpy())
        maps.append(out.anomaly_map.cpu().numpy())
        matched.append(out.matched_class.cpu().numpy())
    model.train(was_training)
    return np.concatenate(scores), np.concatenate(maps), np.concatenate(matched)


def validation_figures(
    model: CrasModel,
    raw_features: torch.Tensor,
    tiles: TileSet,
    *,
    confirmed_features: torch.Tensor | None = None,
) -> dict[str, float]:
    """Tile I-AUROC and fabric-pixel P-AUROC on the planted validation set.

    With ``confirmed_features`` (raw features of QA-confirmed defect crops, one tile
    each; ``training/qa_feedback.py``), also the tile I-AUROC of those crops against
    the set's defect-free tiles (``val_store_image_auroc``), and the checkpoint score
    becomes the mean of the synthetic score and that figure: real defects weigh as
    much as all planted ones, and the planted ones keep the pixel signal the crops
    (which have no pixel masks) cannot give.
    """
    scores, maps, _ = score_cached(model, raw_features)
    valid = tiles.fabric
    labels = tiles.labels
    image = auroc(scores, labels)
    pixel = auroc(maps[valid].astype(np.float32), tiles.masks[valid])
    figures = {"val_image_auroc": image, "val_pixel_auroc": pixel, "val_score": (image + pixel) / 2}
    if confirmed_features is not None:
        confirmed, _, _ = score_cached(model, confirmed_features)
        store = confirmed_auroc(scores[labels == 0], confirmed)
        figures["val_synthetic_score"] = figures["val_score"]
        figures["val_store_image_auroc"] = store
        figures["val_score"] = (figures["val_synthetic_score"] + store) / 2
    return figures


def confirmed_auroc(normal_scores: np.ndarray, confirmed_scores: np.ndarray) -> float:
    """Tile I-AUROC of confirmed-defect tiles (positives) against defect-free tiles."""
    scores = np.concatenate([normal_scores, confirmed_scores]).astype(np.float32)
    labels = np.concatenate([np.zeros(len(normal_scores)), np.ones(len(confirmed_scores))])
    return auroc(scores, labels.astype(np.int64))

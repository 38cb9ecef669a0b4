"""The CRAS network: uint8 tiles in, tile scores and anomaly maps out.

Pre- and post-processing live inside the module (and so inside any exported
graph): the station hands over raw uint8 tiles and never re-implements
normalisation or upsampling.

Stages (CRAS.md): preprocessing -> frozen backbone -> fixed patch embedding
-> per-dimension standardisation (our addition, CRAS.md section 10) ->
adaptor G -> global class match -> local center matching -> residual
discriminator -> score grid -> anomaly map.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from training.backbones import FeatureBackbone
from training.cras.center_matching import center_match_chunked, match_classes_reference
from training.cras.discriminator import FeatureAdaptor, ResidualDiscriminator
from training.cras.embedding import PatchEmbedding
from training.cras.scoring import AnomalyMapHead
from training.cras.spec import ModelSpec
from training.cras.variants import components


class CrasOutput(NamedTuple):
    """What the model returns in eval mode (the same fields in every backend).

    Attributes:
        tile_score: Maximum patch score per tile, [B].
        score_grid: Patch scores, [B, H, W], H = W = S / 8.
        anomaly_map: Smoothed full-size map, [B, S, S].
        matched_class: Index of the class whose center matched, [B] int64.
    """

    tile_score: torch.Tensor
    score_grid: torch.Tensor
    anomaly_map: torch.Tensor
    matched_class: torch.Tensor


class TilePreprocess(nn.Module):
    """uint8 [B, S, S, C] -> ImageNet-normalised float [B, 3, S, S]."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        self.in_channels = spec.in_channels
        self.scaled_px = spec.scaled_px
        self.tile_px = spec.tile_px
        self.register_buffer("mean", torch.tensor(spec.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(spec.std).view(1, 3, 1, 1), persistent=False)

    def forward(self, tiles: torch.Tensor) -> torch.Tensor:
        images = tiles.permute(0, 3, 1, 2).float() / 255.0
        if self.in_channels == 1:
            images = images.expand(-1, 3, -1, -1)
        if self.scaled_px != self.tile_px:
            images = F.interpolate(
                images, size=(self.scaled_px, self.scaled_px), mode="bilinear", align_corners=False
            )
        return (images - self.mean) / self.std


class CenterMatch(nn.Module):
    """Local center matching step; ``engines`` swaps in faster implementations.

    forward(features [B, N, D], centers [B, M, D]) -> (recomposed [B, N, D], index [B, N]).
    """

    def forward(
        self, features: torch.Tensor, centers: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return center_match_chunked(features, centers)


class CrasModel(nn.Module):
    """One multi-class CRAS model.

    Args:
        spec: Architecture hyper-parameters.
        backbone: The frozen feature backbone matching ``spec.backbone``.
    """

    def __init__(self, spec: ModelSpec, backbone: FeatureBackbone) -> None:
        super().__init__()
        if backbone.spec.name != spec.backbone:
            raise ValueError(f"backbone {backbone.spec.name} does not match spec {spec.backbone}")
        self.spec = spec
        dim = spec.dim
        self.preprocess = TilePreprocess(spec)
        self.backbone = backbone
        self.embedding = PatchEmbedding(
            backbone.spec.channels, pre_dim=spec.pre_dim, dim=dim, patch_size=spec.patch_size
        )
        # Standardisation of embedded features, measured on the training tiles.
        self.register_buffer("feature_mean", torch.zeros(dim))
        self.register_buffer("feature_std", torch.ones(dim))
        self.adaptor = FeatureAdaptor(dim)
        self.register_buffer("centers", torch.zeros(len(spec.classes), spec.positions, dim))
        self.discriminator = ResidualDiscriminator(
            dim, residual=components(spec.variant).residual, temperature=spec.score_temperature
        )
        self.center_match = CenterMatch()
        self.map_head = AnomalyMapHead(spec.tile_px, sigma_px=spec.map_sigma_px)

    # -- pieces used by training (on cached features) and by inference ----------------
    def embed_raw(self, tiles: torch.Tensor) -> torch.Tensor:
        """uint8 tiles [B, S, S, C] -> embedded features [B, N, D] before standardisation."""
        with torch.no_grad():
            levels = self.backbone(self.preprocess(tiles))
            return self.embedding(levels).flatten(2).transpose(1, 2)

    def standardise(self, embedded: torch.Tensor) -> torch.Tensor:
        """Apply the per-dimension statistics of the training tiles, [..., D]."""
        return (embedded.float() - self.feature_mean) / self.feature_std

    def embed(self, tiles: torch.Tensor) -> torch.Tensor:
        """uint8 tiles [B, S, S, C] -> standardised embedded features [B, N, D]."""
        return self.standardise(self.embed_raw(tiles))

    def match_classes(self, adapted: torch.Tensor) -> torch.Tensor:
        """Per-image global center match: [B, N, D] -> [B] class indices."""
        return match_classes_reference(adapted, self.centers)

    def score_embedded(self, embedded: torch.Tensor) -> CrasOutput:
        """Score standardised embedded features [B, N, D] (eval mode)."""
        adapted = self.adaptor(embedded)
        matched_class = self.match_classes(adapted)
        class_centers = self.centers.index_select(0, matched_class)
        recomposed, _ = self.center_match(adapted, class_centers)
        batch, _positions, dim = adapted.shape
        scores = self.discriminator(adapted.reshape(-1, dim), recomposed.reshape(-1, dim))
        grid = scores.reshape(batch, self.spec.grid_px, self.spec.grid_px)
        return CrasOutput(
            tile_score=grid.flatten(1).amax(dim=1),
            score_grid=grid,
            anomaly_map=self.map_head(grid),
            matched_class=matched_class,
        )

    def forward(self, tiles: torch.Tensor) -> CrasOutput:
        """Score uint8 tiles [B, S, S, C]; call in eval mode."""
        return self.score_embedded(self.embed(tiles))

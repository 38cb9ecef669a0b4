"""The CRAS model's specification as plain data (no torch): what shapes its tensors.

A model file stores this spec as JSON; the station reads it to size its tiles
and name its classes without importing torch (see :mod:`training.model_metadata`).
:class:`training.cras.model.CrasModel` is built from it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from training.backbone_specs import IMAGENET_MEAN, IMAGENET_STD, backbone_spec


@dataclass(frozen=True)
class ModelSpec:
    """Architecture hyper-parameters that shape the model's tensors.

    Attributes:
        backbone: Backbone name (see ``training.backbones.BACKBONES``).
        classes: Fabric class names, in center order.
        tile_px: S, side of the square input tile.
        in_channels: Channels of the uint8 tiles (1 grey, replicated to 3; or 3).
        input_scale: Tiles are resized by this factor inside the model before the
            backbone (fine fabric defects are a few pixels wide; > 1 keeps them visible
            at the backbone's stride of 8).
        patch_size: p, neighbourhood side of the embedding.
        pre_dim: D_pre.
        dim: D.
        map_sigma_px: Gaussian sigma of the anomaly map.
        variant: ``"cras"``, or one of the paper's ablations (``training.cras.variants``):
            ``"raw"`` is variant A (no center residual, fixed-variance noise).
        score_temperature: Patch scores are ``sigmoid(logit / T)`` (see
            ``ResidualDiscriminator``). 1.0 is the paper's sigmoid and what model files
            written before this field existed were calibrated with.
    """

    backbone: str
    classes: tuple[str, ...]
    tile_px: int = 256
    in_channels: int = 1
    input_scale: float = 1.0
    patch_size: int = 3
    pre_dim: int = 384
    dim: int = 384
    map_sigma_px: float = 4.0
    variant: str = "cras"
    score_temperature: float = 1.0
    mean: tuple[float, float, float] = field(default=IMAGENET_MEAN)
    std: tuple[float, float, float] = field(default=IMAGENET_STD)

    @property
    def grid_px(self) -> int:
        """H = W of the feature grid."""
        return self.scaled_px // backbone_spec(self.backbone).strides[0]

    @property
    def scaled_px(self) -> int:
        """Side of the tile as the backbone sees it."""
        return round(self.tile_px * self.input_scale)

    @property
    def positions(self) -> int:
        """N = H * W."""
        return self.grid_px**2

    def to_dict(self) -> dict:
        return asdict(self)

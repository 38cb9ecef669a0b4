"""Feature adaptor and center-aware residual discriminator (CRAS.md sections 1 and 5)."""

from __future__ import annotations

import torch
from torch import nn


def xavier_normal_linear(layer: nn.Linear) -> nn.Linear:
    """Xavier-normal weights and zero bias (the paper's initialisation)."""
    nn.init.xavier_normal_(layer.weight)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


class FeatureAdaptor(nn.Module):
    """G_theta: one trainable Linear(D, D) applied to every feature vector."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.linear = xavier_normal_linear(nn.Linear(dim, dim))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """[..., D] -> [..., D]."""
        return self.linear(features)


class ResidualDiscriminator(nn.Module):
    """D_psi: scores ``[f, f - c]`` (size 2D) with three layers; output in (0, 1).

    Linear(2D, D) + BatchNorm + LeakyReLU(0.2), Linear(D, D/2) + BatchNorm +
    LeakyReLU(0.2), Linear(D/2, 1, no bias), sigmoid.

    Args:
        dim: D.
        residual: False drops the residual half of the input (the paper's
            ablation without CRD): the first layer is Linear(D, D) on ``f`` alone.
        temperature: Scores are ``sigmoid(logit / temperature)``. Training uses the
            logits (the loss is unchanged); at 1, fp32 rounds every logit above
            about 16.6 to exactly 1.0, and tied scores rank as coin flips. A
            temperature keeps the order of the logits visible in (0, 1).
    """

    def __init__(self, dim: int, *, residual: bool = True, temperature: float = 1.0) -> None:
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature!r}")
        hidden = dim // 2
        self.residual = residual
        self.temperature = float(temperature)
        self.body = nn.Sequential(
            xavier_normal_linear(nn.Linear(2 * dim if residual else dim, dim)),
            nn.BatchNorm1d(dim),
            nn.LeakyReLU(0.2),
            xavier_normal_linear(nn.Linear(dim, hidden)),
            nn.BatchNorm1d(hidden),
            nn.LeakyReLU(0.2),
            xavier_normal_linear(nn.Linear(hidden, 1, bias=False)),
        )

    def logits(self, features: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
        """Pre-sigmoid scores.

        Args:
            features: [P, D] feature vectors (P positions, any batch flattened).
            centers: [P, D] their recomposed centers.

        Returns:
            [P] logits; anomalous is positive.
        """
        inputs = torch.cat([features, features - centers], dim=1) if self.residual else features
        return self.body(inputs).squeeze(1)

    def forward(self, features: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
        """Anomaly score per position in (0, 1), [P]: ``sigmoid(logit / temperature)``."""
        return torch.sigmoid(self.logits(features, centers) / self.temperature)

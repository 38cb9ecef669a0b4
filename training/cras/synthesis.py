"""Distance-guided anomaly feature synthesis, DAFS (CRAS.md section 4; training only).

Gaussian noise of a fixed size is scaled per position by how far the feature
already lies from its recomposed center: positions near their center get
more noise, distant ones less, normalised so the batch average factor is 1.

Noise scale: the paper's sigma = 0.015 is absolute and belongs to
WideResNet-50's feature magnitudes (CRAS.md section 10). Our features are
standardised per dimension on the training tiles before the adaptor, so the
noise here is expressed in units of that per-dimension spread.
"""

from __future__ import annotations

import torch

# Residual norms below this are treated as this (a feature equal to its center).
MIN_RESIDUAL = 1e-6


def synthesize_anomalies(
    features: torch.Tensor,
    centers: torch.Tensor,
    *,
    noise_std: float,
    adjust: float = 0.3,
    distance_guided: bool = True,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Make synthetic anomalous features f- = f + lambda * epsilon.

    Args:
        features: Normal features f, [P, D].
        centers: Their recomposed centers c, [P, D].
        noise_std: sigma of epsilon ~ N(0, sigma^2 I).
        adjust: k, the magnitude of variance adjustment (paper: 0.3).
        distance_guided: False gives the fixed-variance noise of the paper's
            ablation (lambda = 1 everywhere).
        generator: Random generator for reproducible noise.

    Returns:
        ``(anomalies [P, D], lam [P])``; neither carries gradient from the noise path
        except through ``features``.
    """
    # Drawn on the generator's device (the CPU in training), so a seed gives the
    # same noise whichever device the features are on.
    noise = (
        torch.randn(
            features.shape,
            generator=generator,
            device=generator.device if generator is not None else features.device,
            dtype=features.dtype,
        )
        .to(features.device)
        .mul_(noise_std)
    )
    if not distance_guided:
        return features + noise, torch.ones(features.shape[0], device=features.device)
    with torch.no_grad():
        residual = (features - centers).norm(dim=1).clamp_min(MIN_RESIDUAL)
        ratio = noise.norm(dim=1) / residual
        ratio = ratio / ratio.mean()
        lam = (ratio - 1.0) * adjust + 1.0
    return features + lam[:, None] * noise, lam

"""DAFS: distance-guided noise (CRAS.md section 4)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from training.cras.synthesis import synthesize_anomalies


def _pairs(count: int, dim: int, *, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Features and centers whose residual norms spread over 0.2 .. 20."""
    generator = torch.Generator().manual_seed(seed)
    centers = torch.randn(count, dim, generator=generator) * 4
    direction = torch.randn(count, dim, generator=generator)
    direction /= direction.norm(dim=1, keepdim=True)
    radius = torch.exp(torch.empty(count).uniform_(np.log(0.2), np.log(20), generator=generator))
    return centers + radius[:, None] * direction, centers


def test_lambda_averages_one_and_grows_as_the_residual_shrinks() -> None:
    features, centers = _pairs(3001, 64, seed=1)
    _, lam = synthesize_anomalies(
        features, centers, noise_std=0.5, generator=torch.Generator().manual_seed(0)
    )
    assert lam.shape == (3001,)
    assert float(lam.mean()) == pytest.approx(1.0, abs=1e-5)
    inverse_residual = 1.0 / (features - centers).norm(dim=1)
    correlation = np.corrcoef(lam.numpy(), inverse_residual.numpy())[0, 1]
    assert correlation > 0.95
    # Strictly positive for k = 0.3: lambda = 0.7 + 0.3 s with s > 0.
    assert float(lam.min()) > 0.7


def test_zero_adjustment_and_fixed_variance_give_lambda_one() -> None:
    features, centers = _pairs(500, 16, seed=2)
    for kwargs in ({"adjust": 0.0}, {"distance_guided": False}):
        anomalies, lam = synthesize_anomalies(
            features, centers, noise_std=0.1, generator=torch.Generator().manual_seed(5), **kwargs
        )
        torch.testing.assert_close(lam, torch.ones(500))
        noise = torch.randn(500, 16, generator=torch.Generator().manual_seed(5)) * 0.1
        torch.testing.assert_close(anomalies, features + noise)


def test_noise_has_the_requested_standard_deviation() -> None:
    features, centers = _pairs(4000, 96, seed=3)
    sigma = 0.37
    anomalies, lam = synthesize_anomalies(
        features, centers, noise_std=sigma, generator=torch.Generator().manual_seed(1)
    )
    epsilon = (anomalies - features) / lam[:, None]
    assert float(epsilon.mean()) == pytest.approx(0.0, abs=0.01)
    assert float(epsilon.std()) == pytest.approx(sigma, rel=0.01)


def test_seeded_generator_reproduces_and_another_seed_differs() -> None:
    features, centers = _pairs(100, 8, seed=4)
    first = synthesize_anomalies(
        features, centers, noise_std=0.2, generator=torch.Generator().manual_seed(42)
    )
    second = synthesize_anomalies(
        features, centers, noise_std=0.2, generator=torch.Generator().manual_seed(42)
    )
    other = synthesize_anomalies(
        features, centers, noise_std=0.2, generator=torch.Generator().manual_seed(43)
    )
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert not torch.equal(first[0], other[0])


def test_lambda_on_a_hand_computed_case() -> None:
    """Three positions, residual norms 1, 2 and 4 (3-4-5 style vectors), k = 0.5.

    With noise norms g_i: s_i = g_i / r_i, s <- s / mean(s), lambda = (s - 1) k + 1.
    """
    centers = torch.tensor([[1.0, 1.0], [0.0, -2.0], [5.0, 5.0]])
    residuals = torch.tensor([[0.6, 0.8], [0.0, 2.0], [-2.4, 3.2]])  # norms 1, 2, 4
    features = centers + residuals
    anomalies, lam = synthesize_anomalies(
        features, centers, noise_std=0.1, adjust=0.5, generator=torch.Generator().manual_seed(7)
    )
    epsilon = torch.randn(3, 2, generator=torch.Generator().manual_seed(7)).double() * 0.1
    g = [float(np.hypot(*row)) for row in epsilon.tolist()]
    s = [g[0] / 1.0, g[1] / 2.0, g[2] / 4.0]
    mean_s = sum(s) / 3
    expected = [(value / mean_s - 1.0) * 0.5 + 1.0 for value in s]
    np.testing.assert_allclose(lam.numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(
        anomalies.numpy(),
        (features.double() + torch.tensor(expected)[:, None] * epsilon).numpy(),
        rtol=1e-5,
        atol=1e-6,
    )


def test_gradient_reaches_the_features_but_not_through_lambda() -> None:
    features, centers = _pairs(50, 8, seed=5)
    features.requires_grad_(True)
    anomalies, lam = synthesize_anomalies(
        features, centers, noise_std=0.3, generator=torch.Generator().manual_seed(0)
    )
    assert not lam.requires_grad
    anomalies.sum().backward()
    torch.testing.assert_close(features.grad, torch.ones_like(features))

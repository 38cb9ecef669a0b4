"""Feature adaptor and residual discriminator: initialisation, shapes, range, variants."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from training.cras.discriminator import FeatureAdaptor, ResidualDiscriminator


def _linears(module: nn.Module) -> list[nn.Linear]:
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


def _assert_xavier_normal(layer: nn.Linear) -> None:
    fan_out, fan_in = layer.weight.shape
    expected_std = math.sqrt(2.0 / (fan_in + fan_out))
    weights = layer.weight.detach().double()
    tolerance = 4 * expected_std / math.sqrt(2 * weights.numel())  # ~4 standard errors
    assert float(weights.std()) == pytest.approx(expected_std, abs=tolerance)
    assert abs(float(weights.mean())) < 4 * expected_std / math.sqrt(weights.numel())
    if weights.numel() >= 1000:
        # Normal, not uniform (same variance): a uniform weight never exceeds sqrt(3) sigma.
        assert float(weights.abs().max()) > 2.5 * expected_std
    if layer.bias is not None:
        assert torch.equal(layer.bias, torch.zeros_like(layer.bias))


def test_adaptor_is_one_xavier_normal_linear() -> None:
    torch.manual_seed(0)
    adaptor = FeatureAdaptor(384)
    (layer,) = _linears(adaptor)
    assert layer.weight.shape == (384, 384)
    _assert_xavier_normal(layer)
    features = torch.randn(2, 5, 384)
    assert adaptor(features).shape == (2, 5, 384)
    assert adaptor.linear.weight.requires_grad


@pytest.mark.parametrize(("dim", "residual"), [(384, True), (96, False), (37, True)])
def test_discriminator_layers_and_initialisation(dim: int, residual: bool) -> None:
    torch.manual_seed(dim)
    discriminator = ResidualDiscriminator(dim, residual=residual)
    first, second, last = _linears(discriminator)
    assert first.in_features == (2 * dim if residual else dim) and first.out_features == dim
    assert (second.in_features, second.out_features) == (dim, dim // 2)
    assert (last.in_features, last.out_features) == (dim // 2, 1) and last.bias is None
    for layer in (first, second, last):
        _assert_xavier_normal(layer)
    norms = [m for m in discriminator.modules() if isinstance(m, nn.BatchNorm1d)]
    assert [n.num_features for n in norms] == [dim, dim // 2]


def test_output_is_a_probability_per_position() -> None:
    torch.manual_seed(1)
    discriminator = ResidualDiscriminator(48)
    generator = torch.Generator().manual_seed(1)
    features = torch.randn(101, 48, generator=generator) * 20
    centers = torch.randn(101, 48, generator=generator)
    for mode in (True, False):
        discriminator.train(mode)
        scores = discriminator(features, centers)
        assert scores.shape == (101,)
        assert bool(((scores > 0) & (scores < 1)).all())
        torch.testing.assert_close(scores, torch.sigmoid(discriminator.logits(features, centers)))


def test_only_the_residual_variant_looks_at_the_centers() -> None:
    generator = torch.Generator().manual_seed(2)
    features = torch.randn(20, 16, generator=generator)
    centers = torch.randn(20, 16, generator=generator)
    other_centers = torch.randn(20, 16, generator=generator)
    torch.manual_seed(3)
    with_residual = ResidualDiscriminator(16).eval()
    without = ResidualDiscriminator(16, residual=False).eval()
    assert not torch.allclose(
        with_residual(features, centers), with_residual(features, other_centers)
    )
    assert torch.equal(without(features, centers), without(features, other_centers))
    # The residual input is f - c: moving f and c together changes only the f half.
    assert torch.allclose(
        with_residual.logits(features, features),
        with_residual.body(torch.cat([features, torch.zeros_like(features)], dim=1)).squeeze(1),
    )


def test_temperature_divides_the_logit_and_keeps_large_logits_below_one() -> None:
    torch.manual_seed(4)
    plain = ResidualDiscriminator(16).eval()
    tempered = ResidualDiscriminator(16, temperature=8.0).eval()
    tempered.load_state_dict(plain.state_dict())
    generator = torch.Generator().manual_seed(4)
    features = torch.randn(50, 16, generator=generator)
    centers = torch.randn(50, 16, generator=generator)
    logits = plain.logits(features, centers)
    torch.testing.assert_close(tempered(features, centers), torch.sigmoid(logits / 8.0))
    # fp32 sigmoid is exactly 1.0 from a logit of about 16.6; the largest test logit
    # of the default AITEX model is 65.2. Distinct logits there must stay distinct scores.
    large = torch.tensor([20.0, 30.0, 45.9, 65.2, 100.0])
    assert bool((torch.sigmoid(large) == 1.0).all())
    scaled = torch.sigmoid(large / tempered.temperature)
    assert bool((scaled < 1.0).all()) and bool((scaled.diff() > 0).all())


@pytest.mark.parametrize("temperature", [0.0, -1.0, float("nan")])
def test_temperature_must_be_positive(temperature: float) -> None:
    with pytest.raises(ValueError, match="temperature"):
        ResidualDiscriminator(8, temperature=temperature)

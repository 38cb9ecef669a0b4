"""The method and the paper's ablations: which components each variant trains with."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from training.cras.variants import VARIANTS, components
from training.model_file import load_model
from training.trainer import train

from .helpers import tiny_train_config


def test_each_variant_removes_what_its_name_says() -> None:
    assert VARIANTS == ("cras", "no-dafs", "no-crd", "raw")
    assert components("cras") == (True, True)
    assert components("no-dafs").residual and not components("no-dafs").distance_guided
    assert not components("no-crd").residual and components("no-crd").distance_guided
    assert components("raw") == (False, False)


def test_an_unknown_variant_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"'no-both'.*cras, no-dafs, no-crd, raw"):
        components("no-both")


def _trained(mvtec_root: Path, folder: Path, variant: str):
    result = train(tiny_train_config(mvtec_root, variant=variant), folder / variant, progress=False)
    model, _ = load_model(result.model_dir)
    assert model.spec.variant == variant
    return model


def test_ablations_train_with_their_own_discriminator_input_and_noise(mvtec_root, tmp_path) -> None:
    models = {v: _trained(mvtec_root, tmp_path, v) for v in VARIANTS}
    dim = models["cras"].spec.dim
    for variant, model in models.items():
        expected = 2 * dim if components(variant).residual else dim
        assert model.discriminator.body[0].in_features == expected, variant
    # Same seed, same discriminator input: only the noise differs, so the weights
    # differ exactly where DAFS is switched (nothing else varies between the pairs).
    for with_dafs, without in (("cras", "no-dafs"), ("no-crd", "raw")):
        a = models[with_dafs].discriminator.body[0].weight
        b = models[without].discriminator.body[0].weight
        assert a.shape == b.shape and not torch.equal(a, b), (with_dafs, without)

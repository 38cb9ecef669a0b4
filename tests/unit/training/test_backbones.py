"""Backbones: real ImageNet weights, clear errors for bad weights, frozen and eval forever."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from skimage.data import chelsea
from torch import nn

from training.backbones import (
    BACKBONES,
    CAT_CLASSES,
    IMAGENET_MEAN,
    IMAGENET_STD,
    build_classifier,
    build_feature_backbone,
    lite0_weights_path,
)
from training.errors import ConfigError, WeightsNotFoundError


def _classify_chelsea(model: nn.Module) -> int:
    """Top ImageNet class of the skimage cat, preprocessed independently of the library."""
    image = torch.from_numpy(chelsea()).permute(2, 0, 1).float()[None] / 255.0
    image = nn.functional.interpolate(image, size=(256, 256), mode="bilinear", antialias=True)
    image = image[..., 16:240, 16:240]  # the usual resize-256 / centre-crop-224
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        return int(model((image - mean) / std).argmax(dim=1))


@pytest.fixture(scope="module")
def lite0_classifier() -> tuple[nn.Module, str]:
    return build_classifier("efficientnet_lite0")


def test_lite0_loads_real_imagenet_weights_and_sees_a_cat(lite0_classifier) -> None:
    model, digest = lite0_classifier
    assert _classify_chelsea(model) in CAT_CLASSES
    assert len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)
    assert not model.training


def test_random_weights_do_not_see_a_cat() -> None:
    """The cat check has teeth: the same architecture without its weights fails it."""
    import timm

    torch.manual_seed(0)
    random_model = timm.create_model("efficientnet_lite0", pretrained=False).eval()
    assert _classify_chelsea(random_model) not in CAT_CLASSES


def test_unknown_backbone_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        build_feature_backbone("resnet9000")
    assert "resnet9000" in caught.value.message
    for name in BACKBONES:
        assert name in caught.value.hint


def test_wide_resnet_without_weights_says_to_pass_a_file() -> None:
    with pytest.raises(WeightsNotFoundError) as caught:
        build_feature_backbone("wide_resnet50_2")
    assert "weights file" in caught.value.message
    assert "--backbone-weights" in caught.value.hint


def test_missing_weights_file(tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        build_feature_backbone("efficientnet_lite0", weights_path=tmp_path / "nope.pth")


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_weights_of_another_network_are_refused(tmp_path: Path, suffix: str) -> None:
    small = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Linear(8, 4))
    path = tmp_path / f"small{suffix}"
    if suffix == ".pth":
        torch.save(small.state_dict(), path)
    else:
        save_file({k: v.contiguous() for k, v in small.state_dict().items()}, str(path))
    with pytest.raises(WeightsNotFoundError) as caught:
        build_feature_backbone("efficientnet_lite0", weights_path=path)
    assert "different network" in caught.value.hint


def test_weights_with_right_shapes_but_wrong_values_fail_the_cat_check(tmp_path: Path) -> None:
    import timm

    torch.manual_seed(1)
    random_state = timm.create_model("efficientnet_lite0", pretrained=False).state_dict()
    path = tmp_path / "random.pth"
    torch.save(random_state, path)
    with pytest.raises(WeightsNotFoundError, match="not a cat"):
        build_feature_backbone("efficientnet_lite0", weights_path=path)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_corrupt_weights_file(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"corrupt{suffix}"
    good = lite0_weights_path().read_bytes()
    path.write_bytes(good[:1000] + bytes(range(256)) * 8)
    with pytest.raises(WeightsNotFoundError) as caught:
        build_feature_backbone("efficientnet_lite0", weights_path=path)
    assert "corrupt" in caught.value.hint


def test_train_keeps_eval_mode_and_batchnorm_statistics(lite0) -> None:
    backbone, _ = lite0
    norms = [m for m in backbone.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert norms, "the backbone has BatchNorm layers to protect"
    before = [(m.running_mean.clone(), m.running_var.clone()) for m in norms]
    backbone.train()
    assert not backbone.training
    assert not any(m.training for m in backbone.modules())
    images = torch.randn(2, 3, 72, 72, generator=torch.Generator().manual_seed(3)) * 2 + 1
    backbone(images)
    backbone.train(True)
    backbone(images)
    for norm, (mean, var) in zip(norms, before, strict=True):
        assert torch.equal(norm.running_mean, mean)
        assert torch.equal(norm.running_var, var)


def test_parameters_are_frozen(lite0) -> None:
    backbone, _ = lite0
    parameters = list(backbone.parameters())
    assert parameters and not any(p.requires_grad for p in parameters)
    images = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(4))
    levels = backbone(images)
    assert not any(level.requires_grad for level in levels)


@pytest.mark.parametrize("side", [64, 96, 200])
def test_level_shapes_have_stride_8_and_16(lite0, side: int) -> None:
    """Strides 8 and 16 ('same' padding: a side that is not a multiple rounds up)."""
    backbone, _ = lite0
    images = torch.randn(2, 3, side, side, generator=torch.Generator().manual_seed(side))
    levels = backbone(images)
    spec = BACKBONES["efficientnet_lite0"]
    assert [tuple(level.shape) for level in levels] == [
        (2, spec.channels[0], -(-side // 8), -(-side // 8)),
        (2, spec.channels[1], -(-side // 16), -(-side // 16)),
    ]

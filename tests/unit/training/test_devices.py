"""Training and evaluation on a chosen device: clear errors here, same results on a GPU."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from training.data.datasets import load_tiles
from training.devices import resolve_device
from training.errors import ConfigError
from training.model_file import TENSORS_FILE, load_model
from training.trainer import train

from .helpers import TILE_PX, tiny_train_config


def test_cpu_is_always_usable() -> None:
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("name", ["gpu0", "tpu", ""])
def test_unknown_device_names_are_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="device"):
        resolve_device(name)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_cuda_without_a_gpu_says_so(mvtec_root: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no CUDA GPU") as error:
        train(tiny_train_config(mvtec_root, device="cuda"), tmp_path / "m", progress=False)
    assert "--device cpu" in error.value.hint
    assert not (tmp_path / "m" / TENSORS_FILE).exists()


@pytest.mark.gpu
def test_gpu_training_matches_cpu_training(mvtec_root: Path, tmp_path: Path) -> None:
    """Same seed, same sample order and noise (drawn on the CPU): the GPU run follows the
    CPU run up to floating-point differences (cuDNN convolutions use TF32 by default, so
    the backbone features differ in about the third digit). Trained weights are compared
    by what they do: Adam's first steps move near-zero biases by +-lr whatever the size of
    the gradient, so a bias can differ by its own size while the model behaves the same."""
    on_cpu = train(tiny_train_config(mvtec_root), tmp_path / "cpu", progress=False)
    on_gpu = train(tiny_train_config(mvtec_root, device="cuda"), tmp_path / "gpu", progress=False)
    cpu_tensors = load_file(str(tmp_path / "cpu" / TENSORS_FILE))
    gpu_tensors = load_file(str(tmp_path / "gpu" / TENSORS_FILE))
    assert cpu_tensors.keys() == gpu_tensors.keys()
    assert all(tensor.device.type == "cpu" for tensor in gpu_tensors.values())
    for key in ("feature_mean", "feature_std", "centers"):  # fixed before training
        scale = float(cpu_tensors[key].abs().max())
        assert float((gpu_tensors[key] - cpu_tensors[key]).abs().max()) < 0.01 * scale, key
    for cpu_epoch, gpu_epoch in zip(
        on_cpu.report["history"], on_gpu.report["history"], strict=True
    ):
        assert gpu_epoch["loss"] == pytest.approx(cpu_epoch["loss"], rel=0.05)
        assert gpu_epoch["val_score"] == pytest.approx(cpu_epoch["val_score"], abs=0.05)
    val = load_tiles(mvtec_root, layout="mvtec", split="val", tile_px=TILE_PX, progress=False)
    tiles = torch.from_numpy(val.tiles)
    cpu_model, _ = load_model(tmp_path / "cpu")
    gpu_model, _ = load_model(tmp_path / "gpu")
    with torch.no_grad():
        cpu_scores = cpu_model.eval()(tiles).tile_score
        gpu_scores = gpu_model.eval()(tiles).tile_score
    print(cpu_scores, gpu_scores)
    assert torch.allclose(gpu_scores, cpu_scores, atol=0.02)

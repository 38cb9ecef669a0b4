"""The backend interface contract, checked on every backend that can run here.

PyTorch (CPU; CUDA where present) and ONNX Runtime (fp32 and fp16 files, CPU)
run the same real (untrained) model; each must honour ``infer``'s contract:
named fields, dtypes and shapes, order kept when batches are split, the
same answer however a batch is cut, clear errors for bad input. TensorRT
runs the same contract in tests/integration/engines/test_tensorrt_gpu.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from engines.backends import BackendInputError, InferenceBackend, InferenceResult
from engines.backends.onnxruntime_backend import OnnxRuntimeBackend, onnxruntime_providers
from engines.backends.torch_backend import TorchBackend
from engines.errors import ArtefactError, BackendUnavailableError, EngineMismatchError
from engines.export import export_onnx
from training.errors import ConfigError
from training.model_file import load_model
from training.testing import fabric_tiles, shared_model_dir

MAX_BATCH = 4
TOLERANCE = {"fp32": 2e-5, "fp16": 2e-2}


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return shared_model_dir(tile_px=64)


@pytest.fixture(scope="module")
def onnx_paths(model_dir, tmp_path_factory) -> dict[str, Path]:
    model, metadata = load_model(model_dir)
    folder = tmp_path_factory.mktemp("backends")
    paths = {p: folder / f"model_{p}.onnx" for p in ("fp32", "fp16")}
    for precision, path in paths.items():
        export_onnx(model, metadata, path, precision=precision)
    return paths


@pytest.fixture(scope="module")
def tiles() -> np.ndarray:
    return np.concatenate(
        [
            fabric_tiles("grey_twill", count=5, tile_px=64, channels=1, seed=21),
            fabric_tiles("dark_plain", count=5, tile_px=64, channels=1, seed=22),
        ]
    )


@pytest.fixture(scope="module")
def expected(model_dir, tiles) -> InferenceResult:
    """The PyTorch model's own outputs (no backend involved)."""
    model, _ = load_model(model_dir)
    with torch.no_grad():
        out = model(torch.from_numpy(tiles))
    return InferenceResult(*(value.numpy() for value in out))


BackendFactory = Callable[[Path, dict[str, Path]], InferenceBackend]


def torch_cpu(model_dir: Path, _: dict[str, Path]) -> InferenceBackend:
    model, metadata = load_model(model_dir)
    return TorchBackend(model, metadata, device="cpu", max_batch=MAX_BATCH)


def torch_cuda_fp16(model_dir: Path, _: dict[str, Path]) -> InferenceBackend:
    model, metadata = load_model(model_dir)
    return TorchBackend(model, metadata, device="cuda", precision="fp16", max_batch=MAX_BATCH)


def ort_cpu(precision: str) -> BackendFactory:
    def make(_: Path, paths: dict[str, Path]) -> InferenceBackend:
        return OnnxRuntimeBackend(paths[precision], max_batch=MAX_BATCH, intra_op_threads=1)

    return make


BACKENDS = [
    pytest.param(torch_cpu, "fp32", id="torch-cpu"),
    pytest.param(ort_cpu("fp32"), "fp32", id="onnxruntime-cpu-fp32"),
    pytest.param(ort_cpu("fp16"), "fp16", id="onnxruntime-cpu-fp16"),
    pytest.param(torch_cuda_fp16, "fp16", id="torch-cuda-fp16", marks=pytest.mark.gpu),
]


@pytest.mark.parametrize(("make", "precision"), BACKENDS)
def test_results_have_the_contract_fields_and_match_pytorch(
    make, precision, model_dir, onnx_paths, tiles, expected
) -> None:
    with make(model_dir, onnx_paths) as backend:
        result = backend.infer(tiles)  # 10 tiles > max batch 4: split in 3
        info = backend.info

    count = len(tiles)
    assert isinstance(result, InferenceResult)
    assert result.tile_score.shape == (count,) and result.tile_score.dtype == np.float32
    assert result.score_grid.shape == (count, 8, 8) and result.score_grid.dtype == np.float32
    assert result.anomaly_map.shape == (count, 64, 64) and result.anomaly_map.dtype == np.float32
    assert result.matched_class.shape == (count,) and result.matched_class.dtype == np.int64
    assert set(result.matched_class.tolist()) <= {0, 1}
    np.testing.assert_allclose(
        result.tile_score, expected.tile_score, atol=TOLERANCE[precision], rtol=0
    )
    # Mean, not max: a center-matching near-tie may move single patches (engines/parity.py).
    assert np.abs(result.anomaly_map - expected.anomaly_map).mean() <= TOLERANCE[precision] / 4
    np.testing.assert_array_equal(result.matched_class, expected.matched_class)
    _, metadata = load_model(model_dir)
    assert info.model_hash == metadata.model_hash
    assert (info.classes, info.tile_px, info.in_channels) == (("a", "b"), 64, 1)
    assert info.precision == precision and info.max_batch == MAX_BATCH


@pytest.mark.parametrize(("make", "precision"), BACKENDS)
def test_cutting_batches_differently_gives_the_same_answer(
    make, precision, model_dir, onnx_paths, tiles
) -> None:
    with make(model_dir, onnx_paths) as backend:
        whole = backend.infer(tiles)
        one_by_one = [backend.infer(tiles[i : i + 1]) for i in range(len(tiles))]
        streamed = list(backend.infer_batches([tiles[:3], tiles[3:9], tiles[9:]]))

    tolerance = 1e-6 if precision == "fp32" else 5e-3
    singles = np.concatenate([r.tile_score for r in one_by_one])
    np.testing.assert_allclose(singles, whole.tile_score, atol=tolerance, rtol=0)
    assert [len(r.tile_score) for r in streamed] == [3, 6, 1]
    np.testing.assert_allclose(
        np.concatenate([r.tile_score for r in streamed]), whole.tile_score, atol=tolerance, rtol=0
    )
    np.testing.assert_array_equal(
        np.concatenate([r.matched_class for r in streamed]), whole.matched_class
    )


BAD_INPUTS = [
    pytest.param(np.zeros((2, 64, 64, 1), dtype=np.float32), "got float32", id="float"),
    pytest.param(np.zeros((2, 64, 64), dtype=np.uint8), "got uint8 [2, 64, 64]", id="rank3"),
    pytest.param(np.zeros((2, 32, 32, 1), dtype=np.uint8), "[2, 32, 32, 1]", id="tile-size"),
    pytest.param(np.zeros((2, 64, 64, 3), dtype=np.uint8), "[2, 64, 64, 3]", id="channels"),
    pytest.param(np.zeros((0, 64, 64, 1), dtype=np.uint8), "empty batch", id="empty"),
    pytest.param([[0]], "got list", id="not-an-array"),
]


@pytest.mark.parametrize(("make", "precision"), BACKENDS[:2])
@pytest.mark.parametrize(("bad", "message"), BAD_INPUTS)
def test_bad_tiles_raise_input_errors_with_a_hint(
    make, precision, model_dir, onnx_paths, bad, message
) -> None:
    with make(model_dir, onnx_paths) as backend, pytest.raises(BackendInputError) as info:
        backend.infer(bad)
    assert message in info.value.message
    assert info.value.hint
    with make(model_dir, onnx_paths) as backend, pytest.raises(BackendInputError):
        list(backend.infer_batches([np.zeros((1, 64, 64, 1), np.uint8), bad]))


def test_onnxruntime_rejects_a_corrupt_file(onnx_paths, tmp_path) -> None:
    corrupt = tmp_path / "corrupt.onnx"
    data = onnx_paths["fp32"].read_bytes()
    corrupt.write_bytes(data[: len(data) // 3])

    with pytest.raises(ArtefactError, match="ONNX Runtime cannot load") as info:
        OnnxRuntimeBackend(corrupt)
    assert "export it again" in info.value.hint


def test_onnxruntime_rejects_an_export_of_another_model(onnx_paths) -> None:
    with pytest.raises(EngineMismatchError, match="not from the model"):
        OnnxRuntimeBackend(onnx_paths["fp32"], expected_model_hash="0" * 64)


def test_onnxruntime_missing_file(tmp_path) -> None:
    with pytest.raises(ArtefactError, match="does not exist"):
        OnnxRuntimeBackend(tmp_path / "nothing.onnx")


@pytest.mark.skipif("CUDAExecutionProvider" in onnxruntime_providers(), reason="ORT has CUDA here")
def test_onnxruntime_cuda_without_the_provider_says_what_to_install(onnx_paths) -> None:
    with pytest.raises(BackendUnavailableError, match="no CUDA execution provider") as info:
        OnnxRuntimeBackend(onnx_paths["fp32"], device="cuda")
    assert "onnxruntime-gpu" in info.value.hint


def test_torch_backend_refuses_fp16_on_the_cpu(model_dir) -> None:
    model, metadata = load_model(model_dir)
    with pytest.raises(ConfigError, match="fp16 needs a CUDA device"):
        TorchBackend(model, metadata, device="cpu", precision="fp16")

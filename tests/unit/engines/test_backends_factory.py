"""``open_backend``: what it opens for a model folder, an ONNX file or an engine, and why."""

from __future__ import annotations

import importlib.util
import json
import logging
import shutil
from pathlib import Path

import pytest
import torch

from engines.backends import open_backend
from engines.backends.onnxruntime_backend import OnnxRuntimeBackend
from engines.backends.torch_backend import TorchBackend
from engines.errors import ArtefactError, BackendUnavailableError
from engines.export import ArtefactMetadata, export_onnx
from engines.tensorrt.header import EngineHeader, sha256_hex, write_engine_file
from training.errors import ConfigError
from training.model_file import load_model
from training.testing import shared_model_dir

TENSORRT_INSTALLED = importlib.util.find_spec("tensorrt") is not None
NO_GPU = not torch.cuda.is_available()


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, Path]:
    """fp32 ONNX exports of two different models."""
    folder = tmp_path_factory.mktemp("factory")
    paths = {}
    for name, seed in (("this", 0), ("other", 1)):
        model, metadata = load_model(shared_model_dir(tile_px=64, seed=seed))
        paths[name] = folder / f"{name}.onnx"
        export_onnx(model, metadata, paths[name], precision="fp32")
    return paths


@pytest.fixture
def model_dir(tmp_path) -> Path:
    """A private copy of the shared model folder (tests add exports to it)."""
    return Path(shutil.copytree(shared_model_dir(tile_px=64), tmp_path / "model"))


def choice_line(caplog) -> str:
    lines = [r.getMessage() for r in caplog.records if r.name == "engines.backends.factory"]
    assert lines, "open_backend logged nothing"
    return lines[-1]


@pytest.mark.skipif(not NO_GPU, reason="the CPU rule applies where there is no GPU")
def test_model_folder_alone_opens_pytorch_on_the_cpu_and_says_why(model_dir, caplog) -> None:
    with caplog.at_level(logging.INFO), open_backend(model_dir) as backend:
        assert isinstance(backend, TorchBackend)
        assert (backend.info.device, backend.info.precision) == ("cpu", "fp32")

    line = choice_line(caplog)
    assert "chose torch on cpu" in line
    assert "no ONNX export found" in line and "no engine file found" in line
    assert "no CUDA GPU" in line


@pytest.mark.skipif(not NO_GPU, reason="the CPU rule applies where there is no GPU")
def test_an_onnx_export_in_the_folder_is_preferred_on_the_cpu(model_dir, exports, caplog):
    shutil.copy(exports["this"], model_dir / "model.onnx")

    with caplog.at_level(logging.INFO), open_backend(model_dir, intra_op_threads=1) as backend:
        assert isinstance(backend, OnnxRuntimeBackend)
        assert backend.info.device == "cpu"

    assert "chose onnxruntime on cpu (fp32, model.onnx)" in choice_line(caplog)


def test_exports_of_another_model_in_the_folder_are_skipped(model_dir, exports, caplog):
    shutil.copy(exports["other"], model_dir / "stale.onnx")

    with caplog.at_level(logging.INFO), open_backend(model_dir, device="cpu") as backend:
        assert isinstance(backend, TorchBackend)

    assert "stale.onnx was exported from another model" in choice_line(caplog)


def test_exports_that_failed_parity_are_skipped(model_dir, exports, caplog) -> None:
    shutil.copy(exports["this"], model_dir / "model.onnx")
    (model_dir / "model.onnx.parity.json").write_text(json.dumps({"valid": False}))

    with caplog.at_level(logging.INFO), open_backend(model_dir, device="cpu") as backend:
        assert isinstance(backend, TorchBackend)

    assert "failed (or has an unreadable) parity report" in choice_line(caplog)


def test_a_requested_precision_filters_exports(model_dir, exports, caplog) -> None:
    shutil.copy(exports["this"], model_dir / "model.onnx")

    with pytest.raises(BackendUnavailableError, match=r"model\.onnx is fp32, fp16 was asked for"):
        open_backend(model_dir, kind="onnxruntime", device="cpu", precision="fp16")


def test_an_onnx_file_opens_onnxruntime(exports) -> None:
    with open_backend(exports["this"], intra_op_threads=1) as backend:
        assert isinstance(backend, OnnxRuntimeBackend)
        assert backend.info.classes == ("a", "b")


def test_an_onnx_file_cannot_run_on_pytorch(exports) -> None:
    with pytest.raises(BackendUnavailableError, match="needs the model folder") as info:
        open_backend(exports["this"], kind="torch")
    assert "model folder" in info.value.hint


def test_a_named_corrupt_onnx_file_is_reported_as_such(tmp_path) -> None:
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"\x08\x07\x12\xff\xff\xff\xff\x0fgarbage")

    with pytest.raises(ArtefactError, match="not a readable ONNX file"):
        open_backend(path)


def test_tensorrt_on_a_folder_without_engine_says_how_to_build_one(model_dir) -> None:
    with pytest.raises(BackendUnavailableError, match="no engine file found") as info:
        open_backend(model_dir, kind="tensorrt")
    assert "station export" in info.value.hint and "--format tensorrt" in info.value.hint


def fake_engine(path: Path, model_dir: Path, *, plan: bytes = b"not a real plan") -> Path:
    _, metadata = load_model(model_dir)
    artefact = ArtefactMetadata.from_model(
        load_model(model_dir)[0].spec, metadata, precision="fp16"
    )
    header = EngineHeader(
        artefact=artefact, tensorrt_version="10.8.0", gpu_name="NVIDIA H100 80GB HBM3",
        compute_capability="9.0", max_batch=8, opt_batch=8, engine_bytes=len(plan),
        engine_sha256=sha256_hex(plan), onnx_sha256="0" * 64, built_utc="2026-01-01T00:00:00",
    )  # fmt: skip
    write_engine_file(path, header, plan)
    return path


@pytest.mark.skipif(TENSORRT_INSTALLED, reason="TensorRT is installed here")
def test_an_engine_where_tensorrt_is_missing_says_so(model_dir, tmp_path) -> None:
    engine = fake_engine(tmp_path / "model.engine", model_dir)

    with pytest.raises(BackendUnavailableError, match="tensorrt package is not installed"):
        open_backend(engine)


@pytest.mark.skipif(TENSORRT_INSTALLED or not NO_GPU, reason="TensorRT and a GPU are here")
def test_auto_falls_back_from_an_unusable_engine_in_the_folder(model_dir, caplog) -> None:
    fake_engine(model_dir / "model.engine", model_dir)

    with caplog.at_level(logging.INFO), open_backend(model_dir) as backend:
        assert isinstance(backend, TorchBackend)
    assert "model.engine: the tensorrt package is not installed" in choice_line(caplog)


def test_a_named_corrupt_engine_is_rejected_even_without_tensorrt(model_dir, tmp_path) -> None:
    engine = fake_engine(tmp_path / "model.engine", model_dir)
    data = bytearray(engine.read_bytes())
    data[-3] ^= 0xFF
    engine.write_bytes(bytes(data))

    with pytest.raises(ArtefactError, match="SHA-256 differs") as info:
        open_backend(engine)
    assert "rebuild" in info.value.hint


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"kind": "tflite"}, "unknown backend 'tflite'"),
        ({"device": "tpu"}, "unknown device 'tpu'"),
        ({"precision": "int8"}, "unknown precision 'int8'"),
    ],
)
def test_unknown_options_are_config_errors(model_dir, options, message) -> None:
    with pytest.raises(ConfigError, match=message):
        open_backend(model_dir, **options)


def test_not_a_model_nor_an_artefact(tmp_path) -> None:
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(ArtefactError, match="neither a model folder"):
        open_backend(tmp_path / "weights.bin")
    with pytest.raises(ArtefactError, match="is not a model folder"):
        open_backend(tmp_path)


@pytest.mark.skipif(not NO_GPU, reason="a GPU is here")
def test_cuda_requested_without_a_gpu(model_dir) -> None:
    with pytest.raises(BackendUnavailableError, match="no CUDA GPU is available"):
        open_backend(model_dir, device="cuda")

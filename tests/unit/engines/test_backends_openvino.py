"""The OpenVINO backend on a real (untrained) model's ONNX export.

Parity with PyTorch within the export's tolerance on generated fabric tiles
(fp32 and fp16 files, executed in f32), batches cut and streamed alike, the
execution precision reported, bf16 reported as such, and clear errors for a
missing, corrupt or foreign file. openvino is in the ``dev`` extra, so CI runs
all of this (``require`` fails there when it is missing).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from engines.backends import InferenceResult
from engines.backends.openvino_backend import OpenVinoBackend, openvino_unavailable_reason
from engines.errors import ArtefactError, BackendUnavailableError, EngineMismatchError
from engines.export import export_onnx
from tests.conftest import require
from training.model_file import load_model
from training.testing import fabric_tiles, shared_model_dir

MAX_BATCH = 4
TOLERANCE = {"fp32": 2e-5, "fp16": 2e-2}


@pytest.fixture(autouse=True)
def _openvino_installed() -> None:
    require(openvino_unavailable_reason() is None, "openvino (pip install '.[openvino]')")


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return shared_model_dir(tile_px=64)


@pytest.fixture(scope="module")
def onnx_paths(model_dir, tmp_path_factory) -> dict[str, Path]:
    model, metadata = load_model(model_dir)
    folder = tmp_path_factory.mktemp("openvino")
    paths = {p: folder / f"model_{p}.onnx" for p in ("fp32", "fp16")}
    for precision, path in paths.items():
        export_onnx(model, metadata, path, precision=precision)
    return paths


@pytest.fixture(scope="module")
def tiles() -> np.ndarray:
    return np.concatenate(
        [
            fabric_tiles("grey_twill", count=5, tile_px=64, channels=1, seed=31),
            fabric_tiles("dark_plain", count=5, tile_px=64, channels=1, seed=32),
        ]
    )


@pytest.fixture(scope="module")
def expected(model_dir, tiles) -> InferenceResult:
    model, _ = load_model(model_dir)
    with torch.no_grad():
        out = model(torch.from_numpy(tiles))
    return InferenceResult(*(value.numpy() for value in out))


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_matches_pytorch_within_the_export_tolerance(
    precision, model_dir, onnx_paths, tiles, expected, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="engines.backends.openvino_backend")
    with OpenVinoBackend(onnx_paths[precision], max_batch=MAX_BATCH) as backend:
        result = backend.infer(tiles)  # 10 tiles > max batch 4: split, pieces overlap
        info = backend.info
        executed = backend.execution_precision

    count = len(tiles)
    assert result.tile_score.shape == (count,) and result.tile_score.dtype == np.float32
    assert result.score_grid.shape == (count, 8, 8) and result.score_grid.dtype == np.float32
    assert result.anomaly_map.shape == (count, 64, 64) and result.anomaly_map.dtype == np.float32
    assert result.matched_class.shape == (count,) and result.matched_class.dtype == np.int64
    np.testing.assert_allclose(
        result.tile_score, expected.tile_score, atol=TOLERANCE[precision], rtol=0
    )
    assert np.abs(result.anomaly_map - expected.anomaly_map).mean() <= TOLERANCE[precision] / 4
    np.testing.assert_array_equal(result.matched_class, expected.matched_class)
    _, metadata = load_model(model_dir)
    assert (info.name, info.device, info.precision) == ("openvino", "cpu", precision)
    assert info.model_hash == metadata.model_hash and info.max_batch == MAX_BATCH
    assert executed == "fp32"
    assert f"{precision} file executed in fp32" in caplog.text


def test_cutting_and_streaming_batches_gives_the_same_answer(onnx_paths, tiles) -> None:
    with OpenVinoBackend(onnx_paths["fp32"], max_batch=MAX_BATCH) as backend:
        whole = backend.infer(tiles)
        singles = [backend.infer(tiles[i : i + 1]) for i in range(len(tiles))]
        streamed = list(backend.infer_batches([tiles[:3], tiles[3:9], tiles[9:]]))

    np.testing.assert_allclose(
        np.concatenate([r.tile_score for r in singles]), whole.tile_score, atol=1e-6, rtol=0
    )
    assert [len(r.tile_score) for r in streamed] == [3, 6, 1]
    np.testing.assert_allclose(
        np.concatenate([r.tile_score for r in streamed]), whole.tile_score, atol=1e-6, rtol=0
    )
    np.testing.assert_array_equal(
        np.concatenate([r.matched_class for r in streamed]), whole.matched_class
    )


def test_bf16_execution_is_reported_as_bf16(onnx_paths, tiles, expected) -> None:
    import openvino as ov

    if "BF16" not in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        pytest.skip("this CPU has no bf16 units: OpenVINO runs f32 whatever is asked")
    with OpenVinoBackend(onnx_paths["fp32"], inference_precision="bf16") as backend:
        result = backend.infer(tiles)
        assert backend.info.precision == "bf16" and backend.execution_precision == "bf16"
    # bf16 is coarser than the fp32 export's tolerance, yet still the same model.
    np.testing.assert_allclose(result.tile_score, expected.tile_score, atol=0.1, rtol=0)


def test_an_unknown_inference_precision_is_refused(onnx_paths) -> None:
    with pytest.raises(BackendUnavailableError, match="inference precision 'int8'") as info:
        OpenVinoBackend(onnx_paths["fp32"], inference_precision="int8")
    assert "f32" in info.value.hint


def test_a_corrupt_file_gives_one_clear_error(onnx_paths, tmp_path) -> None:
    corrupt = tmp_path / "corrupt.onnx"
    data = onnx_paths["fp32"].read_bytes()
    corrupt.write_bytes(data[: len(data) // 3])

    with pytest.raises(ArtefactError, match="not a readable ONNX file") as info:
        OpenVinoBackend(corrupt)
    assert "export it again" in info.value.hint
    assert "\n" not in info.value.message


def test_a_missing_file_says_how_to_make_one(tmp_path) -> None:
    with pytest.raises(ArtefactError, match="does not exist") as info:
        OpenVinoBackend(tmp_path / "nothing.onnx")
    assert "station export --format onnx" in info.value.hint


def test_an_export_of_another_model_is_refused(onnx_paths) -> None:
    with pytest.raises(EngineMismatchError, match="not from the model"):
        OpenVinoBackend(onnx_paths["fp32"], expected_model_hash="0" * 64)


def test_open_backend_opens_openvino_when_asked_and_auto_names_it(
    onnx_paths, tmp_path, caplog
) -> None:
    import shutil

    from engines.backends import open_backend

    folder = Path(shutil.copytree(shared_model_dir(tile_px=64), tmp_path / "model"))
    shutil.copy(onnx_paths["fp32"], folder / "model.onnx")
    with open_backend(folder, kind="openvino", max_batch=MAX_BATCH) as backend:
        assert isinstance(backend, OpenVinoBackend)
        assert (backend.info.name, backend.info.precision) == ("openvino", "fp32")
    with open_backend(onnx_paths["fp32"], kind="openvino") as backend:
        assert isinstance(backend, OpenVinoBackend)

    (folder / "model.onnx.parity.json").write_text('{"valid": false}')
    with pytest.raises(BackendUnavailableError, match=r"failed .* parity report"):
        open_backend(folder, kind="openvino")


def test_auto_passes_over_openvino_for_a_stale_export_and_says_why(tmp_path, caplog) -> None:
    import shutil

    from engines.backends import open_backend

    folder = Path(shutil.copytree(shared_model_dir(tile_px=64), tmp_path / "model"))
    other, metadata = load_model(shared_model_dir(tile_px=64, seed=1))
    export_onnx(other, metadata, folder / "stale.onnx", precision="fp32")
    with caplog.at_level(logging.INFO), open_backend(folder, device="cpu") as backend:
        assert backend.info.name == "torch"
    line = [r.getMessage() for r in caplog.records if r.name == "engines.backends.factory"][-1]
    assert "openvino: stale.onnx was exported from another model" in line

"""TensorRT engines for real: build through the parser with the CenterMatch plugin, run, check.

Needs an NVIDIA GPU (``gpu`` marker: skipped where there is none) and
TensorRT >= 10.8 with pycuda (``require``: skipped on a developer machine
without them, a failure in CI). The graph handed to the parser has no body
for the CenterMatch node, so a successful build proves the node bound to the
plugin.
"""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from engines.backends import BackendInputError, open_backend
from engines.backends.tensorrt_backend import TensorRTBackend
from engines.errors import EngineMismatchError
from engines.export import export_model
from engines.parity_tiles import generated_parity_tiles
from engines.tensorrt import gpu_identity, read_engine_file, write_engine_file
from tests.conftest import require
from training.model_file import load_model
from training.testing import fabric_tiles, shared_model_dir

pytestmark = pytest.mark.gpu

TENSORRT_READY = all(importlib.util.find_spec(name) for name in ("tensorrt", "pycuda"))
TOLERANCE = {"fp32": 1e-3, "fp16": 2e-2}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, dict[str, Path]]:
    require(TENSORRT_READY, "TensorRT >= 10.8 and pycuda (pip install 'cras-station[gpu]')")
    model_dir = shared_model_dir(tile_px=64)
    folder = tmp_path_factory.mktemp("engines")
    tiles = generated_parity_tiles(tile_px=64, in_channels=1, count=32, seed=4)
    engines = {}
    for precision in ("fp32", "fp16"):
        outcome = export_model(
            model_dir,
            format_name="tensorrt",
            precision=precision,
            out=folder / f"model_{precision}.engine",
            max_batch=8,
            parity_tiles=tiles,
        )
        assert outcome.report.valid, outcome.report.failures
        engines[precision] = outcome.artefact
    return model_dir, engines


def test_engines_carry_a_header_for_this_gpu_and_a_timing_cache(built) -> None:
    import tensorrt as trt

    _, engines = built
    gpu = gpu_identity()
    for precision, path in engines.items():
        header, _ = read_engine_file(path)
        assert header.tensorrt_version == trt.__version__
        assert (header.gpu_name, header.compute_capability) == (gpu.name, gpu.compute_capability)
        assert header.artefact.precision == precision and header.max_batch == 8
        assert path.with_name(path.name + ".parity.json").is_file()
    cache = engines["fp32"].with_name("tensorrt.timing-cache")
    assert cache.is_file() and cache.stat().st_size > 0


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_engine_backend_keeps_the_contract(built, precision) -> None:
    model_dir, engines = built
    model, metadata = load_model(model_dir)
    tiles = fabric_tiles("fine_twill", count=10, tile_px=64, channels=1, seed=9)
    with torch.no_grad():
        expected = model(torch.from_numpy(tiles))

    with TensorRTBackend(engines[precision], max_batch=4) as backend:
        whole = backend.infer(tiles)  # three pieces, pipelined through two slots
        streamed = list(backend.infer_batches([tiles[:1], tiles[1:8], tiles[8:]]))
        with pytest.raises(BackendInputError):
            backend.infer(tiles.astype(np.float32))
        assert backend.info.model_hash == metadata.model_hash

    assert whole.anomaly_map.shape == (10, 64, 64) and whole.matched_class.dtype == np.int64
    np.testing.assert_allclose(
        whole.tile_score, expected.tile_score.numpy(), atol=TOLERANCE[precision], rtol=0
    )
    np.testing.assert_array_equal(whole.matched_class, expected.matched_class.numpy())
    assert [len(r.tile_score) for r in streamed] == [1, 7, 2]
    np.testing.assert_allclose(
        np.concatenate([r.tile_score for r in streamed]), whole.tile_score, atol=1e-6, rtol=0
    )


def test_engine_of_another_model_is_refused(built) -> None:
    _, engines = built
    with pytest.raises(EngineMismatchError, match="built from model") as info:
        TensorRTBackend(engines["fp16"], expected_model_hash="0" * 64)
    assert "station export" in info.value.hint


def test_engine_built_for_another_gpu_is_refused(built, tmp_path) -> None:
    _, engines = built
    header, plan = read_engine_file(engines["fp16"])
    moved = tmp_path / "other_gpu.engine"
    write_engine_file(
        moved, replace(header, gpu_name="NVIDIA Jetson Orin", compute_capability="8.7"), plan
    )

    with pytest.raises(EngineMismatchError, match="this GPU is") as info:
        TensorRTBackend(moved)
    assert "rebuild it here" in info.value.hint


def test_auto_prefers_a_fitting_engine_in_the_model_folder(built, tmp_path) -> None:
    model_dir, engines = built
    folder = Path(shutil.copytree(model_dir, tmp_path / "model"))
    shutil.copy(engines["fp16"], folder / "model_fp16.engine")

    with open_backend(folder) as backend:
        assert isinstance(backend, TensorRTBackend)
        assert backend.info.precision == "fp16"


def test_engine_layers_include_the_center_match_plugin(built) -> None:
    import tensorrt as trt

    _, engines = built
    _, plan = read_engine_file(engines["fp16"])
    runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
    engine = runtime.deserialize_cuda_engine(plan)
    inspector = engine.create_engine_inspector()
    layers = inspector.get_engine_information(trt.LayerInformationFormat.ONELINE)
    assert "CenterMatch" in layers

"""Engine files without TensorRT: header round trip, corruption and mismatch detection.

The plan bytes here are arbitrary (TensorRT is not needed to check the file
format); real engines are built and run in tests/integration/engines/test_tensorrt_gpu.py.
"""

from __future__ import annotations

import importlib.util
import json
import struct
from dataclasses import replace
from pathlib import Path

import pytest

from engines.backends.tensorrt_backend import TensorRTBackend
from engines.errors import ArtefactError, BackendUnavailableError, EngineMismatchError
from engines.export.artefact import ArtefactMetadata
from engines.tensorrt import (
    EngineHeader,
    check_engine_header,
    read_engine_file,
    read_engine_header,
    write_engine_file,
)
from engines.tensorrt.environment import GpuIdentity, tensorrt_unavailable_reason
from engines.tensorrt.header import MAGIC, sha256_hex
from engines.tensorrt.runtime import TensorRTRuntime

TENSORRT_INSTALLED = importlib.util.find_spec("tensorrt") is not None
PLAN = bytes(range(256)) * 40

ARTEFACT = ArtefactMetadata(
    model_hash="ab" * 32, backbone="efficientnet_lite0", classes=("00", "02"), tile_px=256,
    in_channels=1, grid_px=32, precision="fp16", tile_threshold=0.7, pixel_threshold=0.6,
    code_version="0.1.0", created_utc="2026-01-01T00:00:00+00:00",
)  # fmt: skip
HEADER = EngineHeader(
    artefact=ARTEFACT, tensorrt_version="10.8.0.43", gpu_name="NVIDIA H100 80GB HBM3",
    compute_capability="9.0", max_batch=32, opt_batch=32, engine_bytes=len(PLAN),
    engine_sha256=sha256_hex(PLAN), onnx_sha256="cd" * 32, built_utc="2026-01-01T00:00:00+00:00",
)  # fmt: skip
HERE = {
    "tensorrt_version": "10.8.0.43",
    "gpu_name": "NVIDIA H100 80GB HBM3",
    "compute_capability": "9.0",
}


@pytest.fixture
def engine_file(tmp_path) -> Path:
    path = tmp_path / "model_fp16.engine"
    write_engine_file(path, HEADER, PLAN)
    return path


def test_round_trip(engine_file) -> None:
    header, plan = read_engine_file(engine_file)

    assert header == HEADER and plan == PLAN
    assert read_engine_header(engine_file) == HEADER
    assert engine_file.read_bytes().startswith(MAGIC)


def test_writer_refuses_a_header_that_does_not_describe_the_plan(tmp_path) -> None:
    with pytest.raises(ValueError, match="does not describe"):
        write_engine_file(tmp_path / "x.engine", HEADER, PLAN + b"!")


def test_matching_engine_passes_the_checks(engine_file) -> None:
    check_engine_header(HEADER, origin=engine_file, expected_model_hash="ab" * 32, **HERE)


@pytest.mark.parametrize(
    ("here", "model_hash", "messages"),
    [
        (
            {"tensorrt_version": "10.9.0.34"},
            None,
            ["TensorRT 10.8.0.43, this machine has 10.9.0.34"],
        ),
        (
            {"gpu_name": "NVIDIA GeForce RTX 4090", "compute_capability": "8.9"},
            None,
            [
                "built for NVIDIA H100 80GB HBM3 (compute capability 9.0)",
                "this GPU is NVIDIA GeForce RTX 4090 (compute capability 8.9)",
            ],
        ),
        ({"gpu_name": "NVIDIA H100 PCIe"}, None, ["this GPU is NVIDIA H100 PCIe"]),
        ({}, "ef" * 32, ["from model abababababababab..., but the model in use is efefefef"]),
        ({"tensorrt_version": "11.0.0"}, "ef" * 32, ["TensorRT", "built from model"]),
    ],
    ids=["tensorrt", "gpu-and-arch", "gpu-name", "model", "two-at-once"],
)
def test_mismatches_are_listed_with_the_rebuild_command(engine_file, here, model_hash, messages):
    with pytest.raises(EngineMismatchError) as info:
        check_engine_header(
            HEADER, origin=engine_file, expected_model_hash=model_hash, **{**HERE, **here}
        )

    for message in messages:
        assert message in info.value.message
    hint = info.value.hint
    assert "station export" in hint and "--format tensorrt" in hint
    assert "--precision fp16" in hint and "--max-batch 32" in hint and str(engine_file) in hint


def corrupt(path: Path, change) -> None:
    data = bytearray(path.read_bytes())
    change(data)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.__setitem__(slice(0, 8), b"NOTMAGIC"), "not a cras-station engine file"),
        (lambda d: d.__setitem__(-10, d[-10] ^ 0x01), "SHA-256 differs"),
        (lambda d: d.__delitem__(slice(-100, None)), "truncated or padded"),
        (lambda d: d.extend(b"tail"), "truncated or padded"),
        (lambda d: d.__setitem__(slice(8, 12), struct.pack("<I", 1 << 30)), "corrupt engine"),
        (lambda d: d.__setitem__(slice(12, 20), b"\xff" * 8), "corrupt engine header"),
        (lambda d: d.__delitem__(slice(5, None)), "not a cras-station engine file"),
    ],
    ids=["magic", "flipped-bit", "truncated", "padded", "huge-header", "garbled-header", "stub"],
)
def test_corrupt_files_are_rejected_with_a_hint(engine_file, change, message) -> None:
    corrupt(engine_file, change)

    with pytest.raises(ArtefactError, match=message) as info:
        read_engine_file(engine_file)
    assert "station export --format tensorrt" in info.value.hint


def test_bare_tensorrt_plan_is_not_accepted(tmp_path) -> None:
    bare = tmp_path / "bare.engine"
    bare.write_bytes(PLAN)
    with pytest.raises(ArtefactError, match="bare TensorRT plan"):
        read_engine_header(bare)


def test_header_from_a_newer_version_is_rejected(engine_file, tmp_path) -> None:
    values = HEADER.to_json_dict()
    values["header_version"] = 7
    encoded = json.dumps(values).encode()
    newer = tmp_path / "newer.engine"
    newer.write_bytes(MAGIC + struct.pack("<I", len(encoded)) + encoded + PLAN)
    with pytest.raises(ArtefactError, match="newer than this cras-station reads"):
        read_engine_header(newer)


def test_header_with_missing_fields_is_rejected(tmp_path) -> None:
    values = HEADER.to_json_dict()
    del values["gpu_name"]
    encoded = json.dumps(values).encode()
    path = tmp_path / "partial.engine"
    path.write_bytes(MAGIC + struct.pack("<I", len(encoded)) + encoded + PLAN)
    with pytest.raises(ArtefactError, match="malformed engine header"):
        read_engine_header(path)


def test_runtime_reads_and_verifies_the_file_before_touching_tensorrt(engine_file) -> None:
    corrupt(engine_file, lambda d: d.__setitem__(-1, d[-1] ^ 0x80))
    with pytest.raises(ArtefactError, match="SHA-256 differs"):
        TensorRTRuntime(engine_file)


@pytest.mark.skipif(TENSORRT_INSTALLED, reason="TensorRT is installed here")
def test_backend_without_tensorrt_says_what_to_install(engine_file) -> None:
    with pytest.raises(BackendUnavailableError, match="TensorRT's Python package") as info:
        TensorRTBackend(engine_file)
    assert "pip install 'cras-station[gpu]'" in info.value.hint
    assert tensorrt_unavailable_reason() == "the tensorrt package is not installed"


def test_gpu_identity_arch() -> None:
    assert GpuIdentity("NVIDIA H100", "9.0").arch == 90
    assert GpuIdentity("RTX 4090", "8.9").arch == 89


def test_header_json_keeps_the_artefact_metadata(engine_file) -> None:
    changed = replace(HEADER, max_batch=8)
    assert EngineHeader.from_json_dict(changed.to_json_dict(), origin=engine_file) == changed

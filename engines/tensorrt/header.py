"""The engine file: a header saying what the engine was built for, then TensorRT's plan.

Layout::

    b"CRASTRT\\0"                  8 bytes, magic
    header length                  4 bytes, little-endian unsigned
    header                         UTF-8 JSON (see EngineHeader)
    serialized TensorRT engine     the rest

A TensorRT engine runs only with the TensorRT version and on the GPU model it
was built with, and it belongs to one trained model. The header records all
three, and :func:`check_engine_header` refuses a mismatched engine with a
message saying what differs and how to rebuild, before TensorRT ever sees
the plan. Truncated or altered files are caught by the length and SHA-256 of
the plan. No TensorRT import here.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engines.errors import ArtefactError, EngineMismatchError
from engines.export.artefact import ArtefactMetadata

MAGIC = b"CRASTRT\0"
HEADER_VERSION = 1
ENGINE_SUFFIX = ".engine"
_LENGTH = struct.Struct("<I")
# A header is a few kB; anything far larger means the file is not ours.
MAX_HEADER_BYTES = 1 << 20


@dataclass(frozen=True)
class EngineHeader:
    """What an engine was built from and for.

    Attributes:
        artefact: The model's identity and interface (hash, classes, tile size, thresholds).
        tensorrt_version: ``tensorrt.__version__`` at build time.
        gpu_name: CUDA device name, e.g. "NVIDIA H100 80GB HBM3".
        compute_capability: "major.minor", e.g. "9.0".
        max_batch: Largest batch of the optimisation profile.
        opt_batch: Batch size TensorRT tuned for.
        engine_bytes: Size of the serialized plan.
        engine_sha256: Its SHA-256.
        onnx_sha256: SHA-256 of the ONNX graph the engine was built from.
        built_utc: ISO time of the build.
    """

    artefact: ArtefactMetadata
    tensorrt_version: str
    gpu_name: str
    compute_capability: str
    max_batch: int
    opt_batch: int
    engine_bytes: int
    engine_sha256: str
    onnx_sha256: str
    built_utc: str

    def to_json_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["artefact"] = self.artefact.to_json_dict()
        return {"header_version": HEADER_VERSION, **values}

    @classmethod
    def from_json_dict(cls, values: dict[str, Any], *, origin: Path) -> EngineHeader:
        if int(values.get("header_version", 0)) > HEADER_VERSION:
            raise ArtefactError(
                f"{origin} has engine header version {values.get('header_version')}, "
                f"newer than this cras-station reads ({HEADER_VERSION})",
                hint="update cras-station, or rebuild the engine with this version",
            )
        try:
            return cls(
                artefact=ArtefactMetadata.from_json_dict(values["artefact"], origin=origin),
                tensorrt_version=str(values["tensorrt_version"]),
                gpu_name=str(values["gpu_name"]),
                compute_capability=str(values["compute_capability"]),
                max_batch=int(values["max_batch"]),
                opt_batch=int(values["opt_batch"]),
                engine_bytes=int(values["engine_bytes"]),
                engine_sha256=str(values["engine_sha256"]),
                onnx_sha256=str(values["onnx_sha256"]),
                built_utc=str(values["built_utc"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ArtefactError(
                f"{origin} has a malformed engine header ({type(error).__name__}: {error})",
                hint="rebuild the engine with `station export --format tensorrt`",
            ) from None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_engine_file(path: str | Path, header: EngineHeader, engine: bytes) -> None:
    """Write header + plan atomically.

    Raises:
        ValueError: the header's length or hash does not describe ``engine``.
    """
    if header.engine_bytes != len(engine) or header.engine_sha256 != sha256_hex(engine):
        raise ValueError("the engine header does not describe the engine bytes")
    path = Path(path)
    encoded = json.dumps(header.to_json_dict(), indent=1).encode("utf-8")
    temporary = path.with_name(f".{path.name}.partial")
    with temporary.open("wb") as handle:
        handle.write(MAGIC)
        handle.write(_LENGTH.pack(len(encoded)))
        handle.write(encoded)
        handle.write(engine)
    os.replace(temporary, path)


def read_engine_header(path: str | Path) -> EngineHeader:
    """Read only the header (cheap; the plan is not read or verified)."""
    return _read(Path(path), with_engine=False)[0]


def read_engine_file(path: str | Path) -> tuple[EngineHeader, bytes]:
    """Read and verify an engine file.

    Raises:
        ArtefactError: missing file, not an engine file, corrupt header, or a
            plan whose length or SHA-256 differs from the header's (truncated or altered).
    """
    header, engine = _read(Path(path), with_engine=True)
    assert engine is not None
    return header, engine


def _read(path: Path, *, with_engine: bool) -> tuple[EngineHeader, bytes | None]:
    rebuild = "rebuild the engine with `station export --format tensorrt`"
    if not path.is_file():
        raise ArtefactError(f"engine file {path} does not exist", hint=rebuild)
    with path.open("rb") as handle:
        prefix = handle.read(len(MAGIC) + _LENGTH.size)
        if len(prefix) < len(MAGIC) + _LENGTH.size or prefix[: len(MAGIC)] != MAGIC:
            raise ArtefactError(
                f"{path} is not a cras-station engine file (no engine header); a bare "
                "TensorRT plan or another file cannot be checked against this GPU and model",
                hint=rebuild,
            )
        (length,) = _LENGTH.unpack(prefix[len(MAGIC) :])
        if length > MAX_HEADER_BYTES:
            raise ArtefactError(f"{path} has a corrupt engine header", hint=rebuild)
        encoded = handle.read(length)
        try:
            values = json.loads(encoded.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ArtefactError(f"{path} has a corrupt engine header", hint=rebuild) from None
        if not isinstance(values, dict):
            raise ArtefactError(f"{path} has a corrupt engine header", hint=rebuild)
        header = EngineHeader.from_json_dict(values, origin=path)
        if not with_engine:
            return header, None
        engine = handle.read()
    if len(engine) != header.engine_bytes:
        raise ArtefactError(
            f"{path} is truncated or padded: the engine has {len(engine)} bytes, "
            f"the header says {header.engine_bytes}",
            hint="copy the engine file again, or " + rebuild,
        )
    if sha256_hex(engine) != header.engine_sha256:
        raise ArtefactError(
            f"{path} is corrupt: the engine's SHA-256 differs from the header's",
            hint="copy the engine file again, or " + rebuild,
        )
    return header, engine


def check_engine_header(
    header: EngineHeader,
    *,
    origin: Path,
    tensorrt_version: str,
    gpu_name: str,
    compute_capability: str,
    expected_model_hash: str | None = None,
) -> None:
    """Refuse an engine built for another TensorRT, GPU or model.

    Raises:
        EngineMismatchError: listing every difference, with the command to rebuild.
    """
    problems = []
    if header.tensorrt_version != tensorrt_version:
        problems.append(
            f"built with TensorRT {header.tensorrt_version}, this machine has {tensorrt_version}"
        )
    if header.gpu_name != gpu_name or header.compute_capability != compute_capability:
        problems.append(
            f"built for {header.gpu_name} (compute capability {header.compute_capability}), "
            f"this GPU is {gpu_name} (compute capability {compute_capability})"
        )
    if expected_model_hash is not None and header.artefact.model_hash != expected_model_hash:
        problems.append(
            f"built from model {header.artefact.model_hash[:16]}..., "
            f"but the model in use is {expected_model_hash[:16]}..."
        )
    if problems:
        raise EngineMismatchError(
            f"the engine {origin} does not fit this machine or model:\n  " + "\n  ".join(problems),
            hint=(
                "rebuild it here: station export --model MODEL_DIR --format tensorrt "
                f"--precision {header.artefact.precision} --max-batch {header.max_batch} "
                f"--out {origin}"
            ),
        )

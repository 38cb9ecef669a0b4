"""``open_backend``: one call that opens the right backend for a model folder or an artefact.

What can be opened:

* a model folder (``model.json`` + ``model.safetensors``): PyTorch directly;
  ONNX Runtime and TensorRT through exports found *in that folder*
  (``*.onnx``, ``*.engine`` exported from this very model, whose parity
  report, where present, says valid);
* an ``.onnx`` file from ``station export``: ONNX Runtime or OpenVINO;
* an ``.engine`` file from ``station export``: TensorRT.

The ``auto`` rule, fastest first (measured: docs/benchmarks.md, "Inference backends"):

1. TensorRT, when TensorRT, pycuda and a GPU are here and an engine built for
   this GPU, this TensorRT and this model is available;
2. PyTorch on CUDA in fp16 with the Triton kernel, when a GPU is here and
   the model folder is given;
3. ONNX Runtime (its CUDA provider on a GPU, else the CPU), when an ONNX
   export is available: on the CPU it ran 1.8 to 4.4 times the tiles/s of
   PyTorch at batch 8 and 16;
4. OpenVINO on the CPU (f32 execution), from the same ONNX export, when
   openvino is installed: not faster than ONNX Runtime fp32 on the 2-core
   benchmark machine (docs/benchmarks.md, "OpenVINO on the CPU"), so it is
   ONNX Runtime's fallback, ahead of PyTorch on the CPU;
5. PyTorch on the CPU.

The choice and the reason every faster candidate was skipped go to the log.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engines.backends.base import InferenceBackend
from engines.errors import ArtefactError, BackendUnavailableError, EngineMismatchError
from engines.export.artefact import ArtefactMetadata
from engines.tensorrt.header import ENGINE_SUFFIX, read_engine_file, read_engine_header

log = logging.getLogger(__name__)

BACKEND_KINDS = ("auto", "torch", "onnxruntime", "openvino", "tensorrt")
DEVICES = ("auto", "cpu", "cuda")
MODEL_FILE = "model.json"
ONNX_SUFFIX = ".onnx"


@dataclass(frozen=True)
class Candidate:
    """One way to run the model: what, where, and how to open it."""

    kind: str
    device: str
    precision: str
    source: Path
    open: Callable[[], InferenceBackend]

    def describe(self) -> str:
        return f"{self.kind} on {self.device} ({self.precision}, {self.source.name})"


def open_backend(
    source: str | Path,
    *,
    kind: str = "auto",
    device: str = "auto",
    precision: str | None = None,
    max_batch: int = 32,
    backbone_weights: str | Path | None = None,
    intra_op_threads: int | None = None,
) -> InferenceBackend:
    """Open an inference backend for a model folder, an ONNX file or an engine file.

    Args:
        source: Model folder, ``.onnx`` or ``.engine`` file.
        kind: "auto", "torch", "onnxruntime", "openvino" or "tensorrt".
        device: "auto" (a GPU where usable), "cpu" or "cuda".
        precision: "fp32" or "fp16"; None takes each backend's fastest
            (fp16 for PyTorch on CUDA, fp32 on the CPU, an artefact's own).
        max_batch: Largest batch per call (TensorRT: at most the engine's).
        backbone_weights: Local backbone weights for a wide_resnet50_2 model folder.
        intra_op_threads: ONNX Runtime (and OpenVINO) threads (default: the usable cores).

    Raises:
        ConfigError: unknown kind, device or precision.
        BackendUnavailableError: the requested backend cannot run here; for
            ``auto`` only when nothing can.
        ArtefactError / EngineMismatchError: the file given is corrupt or does not fit.
    """
    from training.errors import ConfigError

    if kind not in BACKEND_KINDS:
        raise ConfigError(
            f"unknown backend {kind!r}", hint=f"use one of {', '.join(BACKEND_KINDS)}"
        )
    if device not in DEVICES:
        raise ConfigError(f"unknown device {device!r}", hint=f"use one of {', '.join(DEVICES)}")
    if precision not in (None, "fp32", "fp16"):
        raise ConfigError(f"unknown precision {precision!r}", hint="use fp32 or fp16")
    source = Path(source)
    candidates, skipped = _candidates(
        source,
        device=device,
        precision=precision,
        max_batch=max_batch,
        backbone_weights=backbone_weights,
        intra_op_threads=intra_op_threads,
    )
    if kind != "auto":
        wanted = [c for c in candidates if c.kind == kind]
        if not wanted:
            reasons = [reason for name, reason in skipped if name == kind] or [
                f"{source} offers no way to run {kind}"
            ]
            raise BackendUnavailableError(
                f"cannot open the {kind} backend for {source}: {'; '.join(reasons)}",
                hint=_hint_for(kind, source),
            )
        chosen = wanted[0]
        log.info("backend %s chosen by request", chosen.describe())
        return chosen.open()
    for candidate in candidates:
        try:
            backend = candidate.open()
        except (BackendUnavailableError, EngineMismatchError, ArtefactError) as error:
            if not source.is_dir():
                raise  # the file the user named is the problem: say exactly what
            skipped.append((candidate.kind, str(error).splitlines()[0]))
            continue
        reasons = "; ".join(f"{name}: {reason}" for name, reason in skipped) or "none"
        log.info(
            "backend auto: chose %s, the fastest usable by the auto rule; passed over: %s",
            candidate.describe(),
            reasons,
        )
        return backend
    if source.suffix == ENGINE_SUFFIX:
        hint = (
            "run the engine on the GPU machine it was built for, with TensorRT and pycuda "
            "installed (pip install 'cras-station[gpu]')"
        )
    else:
        hint = "install onnxruntime, or pass a model folder for the PyTorch backend"
    raise BackendUnavailableError(
        f"no inference backend can run {source} here: "
        + "; ".join(f"{name}: {reason}" for name, reason in skipped),
        hint=hint,
    )


def _hint_for(kind: str, source: Path) -> str:
    if kind == "tensorrt":
        return (
            f"build an engine on this GPU: station export --model MODEL_DIR --format tensorrt "
            f"--out {source if source.is_dir() else source.parent}/model_fp16.engine"
        )
    if kind in ("onnxruntime", "openvino"):
        return (
            "export one: station export --model MODEL_DIR --format onnx --out MODEL_DIR/model.onnx"
        )
    return "the PyTorch backend needs the model folder itself (model.json + model.safetensors)"


def _candidates(
    source: Path,
    *,
    device: str,
    precision: str | None,
    max_batch: int,
    backbone_weights: str | Path | None,
    intra_op_threads: int | None,
) -> tuple[list[Candidate], list[tuple[str, str]]]:
    """Candidates in auto-rule order, and (kind, reason) for each one ruled out."""
    import torch

    from engines.backends.onnxruntime_backend import CUDA_PROVIDER, onnxruntime_providers
    from engines.tensorrt.environment import tensorrt_unavailable_reason

    skipped: list[tuple[str, str]] = []
    model_hash: str | None = None
    engines: list[Path] = []
    onnx_files: list[Path] = []
    if source.is_dir():
        if not (source / MODEL_FILE).is_file():
            raise ArtefactError(
                f"{source} is not a model folder ({MODEL_FILE} is missing)",
                hint="pass a model folder, an .onnx export or an .engine file",
            )
        from training.model_file import read_metadata

        model_hash = read_metadata(source).model_hash
        engines = sorted(source.glob(f"*{ENGINE_SUFFIX}"))
        onnx_files = sorted(source.glob(f"*{ONNX_SUFFIX}"))
    elif source.suffix == ENGINE_SUFFIX:
        engines = [source]
    elif source.suffix == ONNX_SUFFIX:
        onnx_files = [source]
    else:
        raise ArtefactError(
            f"{source} is neither a model folder, an .onnx file nor an .engine file",
            hint="pass what `station train` or `station export` wrote",
        )
    explicit = not source.is_dir()
    if explicit and not source.is_file():
        raise ArtefactError(f"{source} does not exist", hint="check the path")

    cuda_ok = device in ("auto", "cuda") and torch.cuda.is_available()
    if device in ("auto", "cuda") and not torch.cuda.is_available():
        skipped.append(("cuda", "no CUDA GPU is available"))
    candidates: list[Candidate] = []

    # 1. TensorRT
    trt_reason = tensorrt_unavailable_reason() if device != "cpu" else "device cpu was requested"
    for engine in engines:
        reason = _artefact_unusable(
            engine, model_hash, precision, _engine_metadata, explicit=explicit
        )
        if reason:
            skipped.append(("tensorrt", reason))
            continue
        if explicit:
            read_engine_file(engine)  # a named file that is corrupt fails here, TensorRT or not
        if trt_reason is not None:
            skipped.append(("tensorrt", f"{engine.name}: {trt_reason}"))
            continue
        candidates.append(
            Candidate("tensorrt", "cuda", _engine_metadata(engine).precision, engine,
                      lambda e=engine: _open_tensorrt(e, max_batch, model_hash))
        )  # fmt: skip
    if not engines:
        skipped.append(("tensorrt", "no engine file found"))

    # 2. PyTorch on CUDA
    if source.is_dir() and cuda_ok:
        torch_precision = precision or "fp16"
        candidates.append(
            Candidate("torch", "cuda", torch_precision, source,
                      lambda: _open_torch(source, "cuda", torch_precision, max_batch,
                                          backbone_weights))
        )  # fmt: skip

    # 3. ONNX Runtime (CUDA provider first)
    providers = onnxruntime_providers()
    for onnx_file in onnx_files:
        if not providers:
            skipped.append(("onnxruntime", "onnxruntime is not installed"))
            break
        reason = _artefact_unusable(
            onnx_file, model_hash, precision, _onnx_metadata, explicit=explicit
        )
        if reason:
            skipped.append(("onnxruntime", reason))
            continue
        file_precision = _onnx_metadata(onnx_file).precision
        ort_devices = (["cuda"] if cuda_ok and CUDA_PROVIDER in providers else []) + (
            ["cpu"] if device != "cuda" else []
        )
        for ort_device in ort_devices:
            candidates.append(
                Candidate("onnxruntime", ort_device, file_precision, onnx_file,
                          lambda f=onnx_file, d=ort_device: _open_onnxruntime(
                              f, d, max_batch, model_hash, intra_op_threads))
            )  # fmt: skip
    if not onnx_files:
        skipped.append(("onnxruntime", "no ONNX export found"))

    # 3b. OpenVINO on the CPU, from the same ONNX export
    if device != "cuda":
        candidates += _openvino_candidates(
            onnx_files, model_hash, precision, max_batch, intra_op_threads, skipped,
            explicit=explicit,
        )  # fmt: skip

    # 4. PyTorch on the CPU
    if source.is_dir() and device != "cuda":
        if precision == "fp16":
            skipped.append(("torch", "fp16 on the CPU is not supported"))
        else:
            candidates.append(
                Candidate("torch", "cpu", "fp32", source,
                          lambda: _open_torch(source, "cpu", "fp32", max_batch, backbone_weights))
            )  # fmt: skip
    elif not source.is_dir():
        skipped.append(("torch", "needs the model folder, not an export"))
    return candidates, skipped


def _openvino_candidates(
    onnx_files: list[Path],
    model_hash: str | None,
    precision: str | None,
    max_batch: int,
    threads: int | None,
    skipped: list[tuple[str, str]],
    *,
    explicit: bool,
) -> list[Candidate]:
    """OpenVINO CPU candidates for the ONNX exports (f32 execution: the export's tolerance)."""
    from engines.backends.openvino_backend import openvino_unavailable_reason

    if not onnx_files:
        skipped.append(("openvino", "no ONNX export found"))
        return []
    reason = openvino_unavailable_reason()
    if reason is not None:
        skipped.append(("openvino", reason))
        return []
    found = []
    for onnx_file in onnx_files:
        unusable = _artefact_unusable(
            onnx_file, model_hash, precision, _onnx_metadata, explicit=explicit
        )
        if unusable:
            skipped.append(("openvino", unusable))
            continue
        found.append(
            Candidate("openvino", "cpu", _onnx_metadata(onnx_file).precision, onnx_file,
                      lambda f=onnx_file: _open_openvino(f, max_batch, model_hash, threads))
        )  # fmt: skip
    return found


def _open_openvino(
    path: Path, max_batch: int, model_hash: str | None, threads: int | None
) -> InferenceBackend:
    from engines.backends.openvino_backend import OpenVinoBackend

    return OpenVinoBackend(
        path, max_batch=max_batch, threads=threads, expected_model_hash=model_hash
    )


def _engine_metadata(path: Path) -> ArtefactMetadata:
    return read_engine_header(path).artefact


def _onnx_metadata(path: Path) -> ArtefactMetadata:
    import onnx

    try:
        graph = onnx.load(str(path), load_external_data=False)
    except Exception:
        raise ArtefactError(
            f"{path} is not a readable ONNX file",
            hint="export it again with `station export --format onnx`",
        ) from None
    props = {prop.key: prop.value for prop in graph.metadata_props}
    return ArtefactMetadata.from_metadata_props(props, origin=path)


def _artefact_unusable(
    path: Path,
    model_hash: str | None,
    precision: str | None,
    read: Callable[[Path], ArtefactMetadata],
    *,
    explicit: bool,
) -> str | None:
    """Why an artefact cannot be used for this request, or None.

    Raises:
        ArtefactError: ``explicit`` (the user named this file) and it is unreadable.
    """
    try:
        artefact = read(path)
    except ArtefactError as error:
        if explicit:
            raise
        return f"{path.name}: {error.message}"
    if model_hash is not None and artefact.model_hash != model_hash:
        return f"{path.name} was exported from another model"
    if precision is not None and artefact.precision != precision:
        return f"{path.name} is {artefact.precision}, {precision} was asked for"
    report = path.with_name(path.name + ".parity.json")
    if report.is_file():
        try:
            valid = json.loads(report.read_text(encoding="utf-8")).get("valid", False)
        except (OSError, json.JSONDecodeError):
            valid = False
        if not valid:
            return f"{path.name} failed (or has an unreadable) parity report {report.name}"
    return None


def _open_tensorrt(path: Path, max_batch: int, model_hash: str | None) -> InferenceBackend:
    from engines.backends.tensorrt_backend import TensorRTBackend

    header_max = read_engine_header(path).max_batch
    return TensorRTBackend(
        path, max_batch=min(max_batch, header_max), expected_model_hash=model_hash
    )


def _open_torch(
    model_dir: Path,
    device: str,
    precision: str,
    max_batch: int,
    backbone_weights: str | Path | None,
) -> InferenceBackend:
    from engines.backends.torch_backend import TorchBackend
    from training.model_file import load_model

    model, metadata = load_model(model_dir, backbone_weights=backbone_weights)
    return TorchBackend(model, metadata, device=device, precision=precision, max_batch=max_batch)


def _open_onnxruntime(
    path: Path,
    device: str,
    max_batch: int,
    model_hash: str | None,
    intra_op_threads: int | None,
) -> InferenceBackend:
    from engines.backends.onnxruntime_backend import OnnxRuntimeBackend

    return OnnxRuntimeBackend(
        path,
        device=device,
        max_batch=max_batch,
        intra_op_threads=intra_op_threads,
        expected_model_hash=model_hash,
    )

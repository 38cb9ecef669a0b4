"""Build a TensorRT engine from an exported ONNX graph, with the CenterMatch plugin.

Steps: register the ``cras::CenterMatch`` plugin (its ahead-of-time
implementation is the Triton kernel compiled to PTX for this GPU), hand the
parser the graph without the node's ONNX function (so the node binds to the
plugin), build a strongly typed network (the precision comes from the graph's
types: an fp16 export computes in fp16; TensorRT 11 only builds this way),
one optimisation profile for batch 1..max_batch, a timing cache that is read
before and saved after the build, and write the engine with its header.

TensorRT is imported only inside :func:`build_engine`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engines.errors import ExportError
from engines.export.artefact import INPUT_NAME, ArtefactMetadata
from engines.export.onnx_export import load_onnx_artefact
from engines.export.onnx_graph import tensorrt_onnx
from engines.tensorrt.environment import gpu_identity, import_tensorrt
from engines.tensorrt.header import EngineHeader, sha256_hex, write_engine_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineBuildOptions:
    """How to build.

    Attributes:
        max_batch: Largest batch of the optimisation profile.
        opt_batch: Batch TensorRT tunes for (``max_batch`` if None: the station sends full batches).
        timing_cache: File to read tactic timings from and save them to (None: no cache).
        workspace_bytes: Builder scratch memory limit (None: TensorRT's default).
        device_index: CUDA device to build on.
    """

    max_batch: int = 32
    opt_batch: int | None = None
    timing_cache: Path | None = None
    workspace_bytes: int | None = None
    device_index: int = 0


class _Logger:
    """Forwards TensorRT's log to ours (created lazily, as it subclasses ``trt.ILogger``)."""

    @staticmethod
    def create(trt: Any) -> Any:
        class TrtLogger(trt.ILogger):
            def __init__(self) -> None:
                trt.ILogger.__init__(self)
                self.errors: list[str] = []

            def log(self, severity: Any, msg: str) -> None:
                if severity in (trt.ILogger.INTERNAL_ERROR, trt.ILogger.ERROR):
                    self.errors.append(msg)
                    log.error("TensorRT: %s", msg)
                elif severity == trt.ILogger.WARNING:
                    log.warning("TensorRT: %s", msg)
                else:
                    log.debug("TensorRT: %s", msg)

        return TrtLogger()


def parser_input(onnx_path: str | Path) -> tuple[bytes, ArtefactMetadata]:
    """What is handed to TensorRT's parser: the serialized graph without the CenterMatch
    function body (so the node binds to the plugin), checked against the plugin's contract.

    Raises:
        ArtefactError: the file is missing, corrupt or not a ``station export`` file.
        PluginGraphError: the CenterMatch node does not fit the plugin.
    """
    graph, artefact = load_onnx_artefact(onnx_path)
    return tensorrt_onnx(graph).SerializeToString(), artefact


def build_engine(
    onnx_path: str | Path, engine_path: str | Path, *, options: EngineBuildOptions
) -> EngineHeader:
    """Build and write an engine file for the GPU of this machine.

    Args:
        onnx_path: A ``station export --format onnx`` file (its precision is the engine's).
        engine_path: Where to write the engine (header + plan).
        options: Profile, timing cache, workspace.

    Returns:
        The header written.

    Raises:
        BackendUnavailableError: TensorRT, Triton or a GPU is missing.
        ArtefactError / PluginGraphError: the ONNX file is not a valid export.
        ExportError: the parser or the builder failed (their messages are included).
    """
    from engines.tensorrt_plugin import register_center_match_plugin

    onnx_path, engine_path = Path(onnx_path), Path(engine_path)
    if options.max_batch < 1:
        raise ExportError(f"max batch must be >= 1, got {options.max_batch}", hint="use e.g. 32")
    trt = import_tensorrt()
    gpu = gpu_identity(options.device_index)
    register_center_match_plugin(arch=gpu.arch)
    serialized_onnx, artefact = parser_input(onnx_path)

    logger = _Logger.create(trt)
    builder = trt.Builder(logger)
    # Strongly typed: TensorRT 10.12+ deprecates, and 11 removes, precision flags.
    flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(serialized_onnx, str(onnx_path)):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise ExportError(
            f"TensorRT's ONNX parser rejected {onnx_path}:\n  " + "\n  ".join(errors),
            hint="check that the TensorRT version supports the graph (opset 17, plugin "
            "cras::CenterMatch registered); export the ONNX file again",
        )

    config = builder.create_builder_config()
    if artefact.precision == "fp32" and hasattr(trt.BuilderFlag, "TF32"):
        config.clear_flag(trt.BuilderFlag.TF32)  # fp32 means fp32 (parity tolerance 1e-3)
    if options.workspace_bytes:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, options.workspace_bytes)
    tile_shape = (artefact.tile_px, artefact.tile_px, artefact.in_channels)
    opt_batch = min(options.opt_batch or options.max_batch, options.max_batch)
    profile = builder.create_optimization_profile()
    profile.set_shape(
        INPUT_NAME, (1, *tile_shape), (opt_batch, *tile_shape), (options.max_batch, *tile_shape)
    )
    config.add_optimization_profile(profile)
    cache = _attach_timing_cache(config, options.timing_cache)

    log.info(
        "building a %s TensorRT %s engine for %s, batch 1..%d (this takes minutes)",
        artefact.precision,
        trt.__version__,
        gpu.name,
        options.max_batch,
    )
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ExportError(
            "TensorRT could not build the engine:\n  " + "\n  ".join(logger.errors[-10:]),
            hint="a smaller --max-batch needs less GPU memory; see the log for TensorRT's reason",
        )
    engine = bytes(serialized)
    if options.timing_cache is not None and cache is not None:
        _save_timing_cache(cache, options.timing_cache)
    header = EngineHeader(
        artefact=artefact,
        tensorrt_version=trt.__version__,
        gpu_name=gpu.name,
        compute_capability=gpu.compute_capability,
        max_batch=options.max_batch,
        opt_batch=opt_batch,
        engine_bytes=len(engine),
        engine_sha256=sha256_hex(engine),
        onnx_sha256=sha256_hex(onnx_path.read_bytes()),
        built_utc=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    engine_path.parent.mkdir(parents=True, exist_ok=True)
    write_engine_file(engine_path, header, engine)
    log.info("wrote %s (%.1f MB)", engine_path, len(engine) / 1e6)
    return header


def _attach_timing_cache(config: Any, path: Path | None) -> Any:
    """Create the builder's timing cache from ``path`` (if readable) and attach it."""
    if path is None:
        return None
    previous = b""
    if path.is_file():
        previous = path.read_bytes()
        log.info("timing cache %s: %d bytes of earlier timings", path, len(previous))
    cache = config.create_timing_cache(previous)
    if not config.set_timing_cache(cache, False):
        log.warning("timing cache %s was made by another TensorRT or GPU; starting empty", path)
        cache = config.create_timing_cache(b"")
        config.set_timing_cache(cache, False)
    return cache


def _save_timing_cache(cache: Any, path: Path) -> None:
    data = bytes(cache.serialize())
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.partial")
    temporary.write_bytes(data)
    temporary.replace(path)
    log.info("saved timing cache %s (%d bytes)", path, len(data))

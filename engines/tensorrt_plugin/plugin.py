"""The ``cras::CenterMatch`` TensorRT plugin, defined through ``tensorrt.plugin``.

The plugin has only an ahead-of-time implementation: at engine build time
TensorRT calls :func:`register_center_match_plugin`'s ``aot_impl`` once per
I/O type combination; it returns the Triton kernel's PTX (compiled for the
build GPU), the entry name, the launch grid/block/shared memory as symbolic
expressions of the input shapes, and the four int32 scalar arguments.
TensorRT stores all of that in the engine and launches the kernel itself, so
running the engine needs no Python and no Triton.

TensorRT is imported only inside :func:`register_center_match_plugin`, so this
module can be imported (and its TensorRT-free parts tested) without it.

This module deliberately has no ``from __future__ import annotations``:
``tensorrt.plugin`` validates the decorated functions' annotations as classes.
"""

import threading
from typing import Any

import torch

from engines.kernels.config import KernelConfig
from engines.kernels.errors import KernelUnavailableError
from engines.tensorrt_plugin.launch_plan import plan_center_match_launch
from engines.tensorrt_plugin.onnx_node import PLUGIN_ID

_REGISTRATION_LOCK = threading.Lock()
_registered_arch: int | None = None

# I/O order: features, centers, recomposed, index. Float types move together.
IO_TYPES = "FP32|FP16, FP32|FP16, FP32|FP16, INT64"


def register_center_match_plugin(
    *, arch: int | None = None, config: KernelConfig | None = None
) -> int:
    """Register ``cras::CenterMatch`` with TensorRT's plugin registry (once per process).

    Call it before parsing an ONNX model that holds CenterMatch nodes.

    Args:
        arch: Compute capability to compile the kernel for, e.g. 89 or 90;
            the current CUDA device's if None.
        config: Kernel block sizes; the dtype's default if None.

    Returns:
        The architecture the plugin compiles for.

    Raises:
        KernelUnavailableError: TensorRT (with AOT plugin support) or Triton is
            missing, no GPU is present to pick ``arch``, or the plugin was
            already registered for another architecture.
    """
    global _registered_arch
    trt, trtp = _import_tensorrt()
    with _REGISTRATION_LOCK:
        target = arch if arch is not None else _current_device_arch()
        if _registered_arch is not None:
            if _registered_arch != target:
                raise KernelUnavailableError(
                    f"{PLUGIN_ID} is already registered for sm_{_registered_arch}",
                    hint="build engines for one GPU architecture per process",
                )
            return target
        _define_plugin(trt, trtp, target, config)
        _registered_arch = target
        return target


def _import_tensorrt() -> tuple[Any, Any]:
    try:
        import tensorrt as trt
        import tensorrt.plugin as trtp
    except ImportError as error:
        raise KernelUnavailableError(
            "the CenterMatch TensorRT plugin needs TensorRT's Python package",
            hint="pip install 'cras-station[gpu]' on the GPU machine (TensorRT >= 10.8)",
        ) from error
    if not hasattr(trtp, "aot_impl"):
        raise KernelUnavailableError(
            f"TensorRT {trt.__version__} has no ahead-of-time plugin support",
            hint="upgrade TensorRT to 10.8 or newer",
        )
    return trt, trtp


def _current_device_arch() -> int:
    if not torch.cuda.is_available():
        raise KernelUnavailableError(
            "no CUDA device to take the target architecture from",
            hint="pass arch= (e.g. 89 for an RTX 4090, 90 for an H100)",
        )
    major, minor = torch.cuda.get_device_capability()
    return major * 10 + minor


def _define_plugin(trt: Any, trtp: Any, arch: int, config: KernelConfig | None) -> None:
    """Define the shape function, the type combinations and the AOT implementation."""
    torch_dtypes = {trt.float32: torch.float32, trt.float16: torch.float16}

    @trtp.register(PLUGIN_ID)
    def center_match_shapes(
        features: trtp.TensorDesc, centers: trtp.TensorDesc
    ) -> tuple[trtp.TensorDesc, trtp.TensorDesc]:
        recomposed = features.like()
        index = trtp.from_shape_expr(
            (features.shape_expr[0], features.shape_expr[1]), dtype=trt.int64
        )
        return recomposed, index

    @trtp.autotune(PLUGIN_ID)
    def center_match_types(
        features: trtp.TensorDesc,
        centers: trtp.TensorDesc,
        outputs: tuple[trtp.TensorDesc, trtp.TensorDesc],
    ) -> list[trtp.AutoTuneCombination]:
        return [trtp.AutoTuneCombination(IO_TYPES, "LINEAR")]

    @trtp.aot_impl(PLUGIN_ID)
    def center_match_kernel(
        features: trtp.TensorDesc,
        centers: trtp.TensorDesc,
        outputs: tuple[trtp.TensorDesc, trtp.TensorDesc],
        tactic: int,
    ) -> tuple[str, str, trtp.KernelLaunchParams, trtp.SymIntExprs]:
        plan = plan_center_match_launch(
            features_shape=tuple(features.shape_expr),
            centers_shape=tuple(centers.shape_expr),
            dtype=torch_dtypes[features.dtype],
            arch=arch,
            config=config,
            constant=_shape_constant,
        )
        launch = trtp.KernelLaunchParams()
        launch.grid_x, launch.grid_y, launch.grid_z = plan.grid
        launch.block_x, launch.block_y, launch.block_z = plan.block
        launch.shared_mem = plan.shared_memory_bytes
        scalars = trtp.SymIntExprs(len(plan.scalar_args))
        for position, value in enumerate(plan.scalar_args):
            scalars[position] = trtp.SymInt32(value)
        return plan.kernel_name, plan.ptx, launch, scalars


def _shape_constant(extent: Any) -> int | None:
    """Build-time value of a TensorRT shape expression, None if it is dynamic."""
    if isinstance(extent, int):
        return extent
    return extent.constant_value() if extent.is_constant else None

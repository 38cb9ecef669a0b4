"""TensorRT engines: the file header, the build (ONNX + CenterMatch plugin) and the runtime.

Only :mod:`.build` and :mod:`.runtime` import TensorRT (and pycuda), and only
when used; :mod:`.header` and :mod:`.environment` work everywhere.
"""

from engines.tensorrt.environment import GpuIdentity, gpu_identity, tensorrt_unavailable_reason
from engines.tensorrt.header import (
    ENGINE_SUFFIX,
    EngineHeader,
    check_engine_header,
    read_engine_file,
    read_engine_header,
    write_engine_file,
)

__all__ = [
    "ENGINE_SUFFIX",
    "EngineHeader",
    "GpuIdentity",
    "check_engine_header",
    "gpu_identity",
    "read_engine_file",
    "read_engine_header",
    "tensorrt_unavailable_reason",
    "write_engine_file",
]

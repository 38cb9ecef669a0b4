"""TensorRT plugin for center matching: ``cras::CenterMatch`` with an ahead-of-time Triton kernel.

* :mod:`.onnx_node`: how the node must look in the ONNX graph handed to
  TensorRT's parser, a builder for it and a checker (no TensorRT needed).
* :mod:`.launch_plan`: the PTX and launch parameters the plugin gives TensorRT
  (no TensorRT needed; Triton compiles for an explicit GPU architecture).
* :mod:`.plugin`: :func:`register_center_match_plugin`, which defines the plugin
  through ``tensorrt.plugin`` (imports TensorRT when called).
"""

from engines.tensorrt_plugin.launch_plan import CenterMatchLaunchPlan, plan_center_match_launch
from engines.tensorrt_plugin.onnx_node import (
    ONNX_DOMAIN,
    PLUGIN_ID,
    PLUGIN_NAME,
    PLUGIN_NAMESPACE,
    PLUGIN_VERSION,
    PluginGraphError,
    center_match_opset,
    check_center_match_nodes,
    make_center_match_node,
)
from engines.tensorrt_plugin.plugin import register_center_match_plugin

__all__ = [
    "ONNX_DOMAIN",
    "PLUGIN_ID",
    "PLUGIN_NAME",
    "PLUGIN_NAMESPACE",
    "PLUGIN_VERSION",
    "CenterMatchLaunchPlan",
    "PluginGraphError",
    "center_match_opset",
    "check_center_match_nodes",
    "make_center_match_node",
    "plan_center_match_launch",
    "register_center_match_plugin",
]

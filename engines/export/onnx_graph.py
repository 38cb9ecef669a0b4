"""Small passes over an exported ONNX graph: constant folding, output shapes, TensorRT copy.

The TorchScript exporter leaves shape arithmetic on constants in the graph
(e.g. the pads of the reflect padding, computed with ``Slice`` of step -1,
which it cannot fold). :func:`fold_constants` evaluates every node whose
inputs are all constants with ONNX's reference evaluator and stores the
result as an initializer, so TensorRT's parser sees constant pads and shapes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from engines.tensorrt_plugin.onnx_node import ONNX_DOMAIN, check_center_match_nodes

# Results larger than this stay computed at run time (no bloat of the file).
MAX_FOLDED_ELEMENTS = 1 << 16
_SUBGRAPH_ATTRIBUTES = (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)


def fold_constants(model: onnx.ModelProto) -> int:
    """Replace default-domain nodes whose inputs are all initializers by their result.

    Works in place, in graph order (which ONNX requires to be topological), so
    chains of constant nodes fold in one pass. Unused initializers are dropped.

    Returns:
        The number of nodes folded.
    """
    graph = model.graph
    opsets = [opset for opset in model.opset_import if opset.domain in ("", "ai.onnx")]
    constants = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    kept_nodes: list[onnx.NodeProto] = []
    folded = 0
    for node in graph.node:
        values = _fold_node(node, constants, opsets)
        if values is None:
            kept_nodes.append(node)
            continue
        for name, value in zip(node.output, values, strict=True):
            constants[name] = value
            graph.initializer.append(numpy_helper.from_array(value, name))
        folded += 1
    del graph.node[:]
    graph.node.extend(kept_nodes)
    _drop_unused_initializers(graph)
    return folded


def _fold_node(
    node: onnx.NodeProto,
    constants: Mapping[str, np.ndarray],
    opsets: Sequence[onnx.OperatorSetIdProto],
) -> list[np.ndarray] | None:
    inputs = [name for name in node.input if name]
    if (
        node.domain not in ("", "ai.onnx")
        or not inputs
        or not all(name in constants for name in inputs)
        or any(attribute.type in _SUBGRAPH_ATTRIBUTES for attribute in node.attribute)
        or node.op_type in ("RandomNormal", "RandomUniform", "RandomNormalLike", "Multinomial")
    ):
        return None
    unique_inputs = list(dict.fromkeys(inputs))
    graph = helper.make_graph(
        [node],
        "fold",
        [
            helper.make_tensor_value_info(
                name, helper.np_dtype_to_tensor_dtype(constants[name].dtype), constants[name].shape
            )
            for name in unique_inputs
        ],
        [helper.make_tensor_value_info(name, TensorProto.UNDEFINED, None) for name in node.output],
    )
    single = helper.make_model(graph, opset_imports=list(opsets))
    results = ReferenceEvaluator(single).run(
        None, {name: constants[name] for name in unique_inputs}
    )
    values = [np.asarray(result) for result in results]
    if any(value.size > MAX_FOLDED_ELEMENTS for value in values):
        return None
    return values


def _drop_unused_initializers(graph: onnx.GraphProto) -> None:
    used = {name for node in graph.node for name in node.input}
    used |= {output.name for output in graph.output}
    kept = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)


def set_output_dims(model: onnx.ModelProto, dims: Mapping[str, Sequence[int | str]]) -> None:
    """Declare the graph outputs' shapes (ints are fixed, strings are named dynamic dims).

    The exporter names dims it could not infer; the shapes are known from the
    model's spec, and consumers (TensorRT, the backends) benefit from them.
    """
    for output in model.graph.output:
        if output.name not in dims:
            continue
        shape = output.type.tensor_type.shape
        del shape.dim[:]
        for extent in dims[output.name]:
            dim = shape.dim.add()
            if isinstance(extent, str):
                dim.dim_param = extent
            else:
                dim.dim_value = int(extent)


def tensorrt_onnx(model: onnx.ModelProto) -> onnx.ModelProto:
    """The copy of an exported model that is handed to TensorRT's parser.

    The ``cras`` local function is removed: depending on its version, the
    parser prefers a model-local function over a registered plugin, and the
    CenterMatch node must bind to the plugin. Node, attributes and opset
    import stay, and are checked against the plugin's contract.

    Raises:
        PluginGraphError: the graph has no CenterMatch node or it breaks the contract.
    """
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    kept = [function for function in copy.functions if function.domain != ONNX_DOMAIN]
    del copy.functions[:]
    copy.functions.extend(kept)
    check_center_match_nodes(copy)
    return copy

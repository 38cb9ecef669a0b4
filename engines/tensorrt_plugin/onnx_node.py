"""The CenterMatch node as it must appear in an ONNX graph for TensorRT's parser.

TensorRT's ONNX parser binds a node it has no importer for to the plugin whose
name equals the node's ``op_type``, in the namespace given by the string
attribute ``plugin_namespace`` (version from ``plugin_version``, default "1").
Every other attribute is handed to the plugin, and the CenterMatch plugin takes
none, so a stray attribute would fail the engine build; :func:`check_center_match_nodes`
catches that (and every other mismatch) before the parser is called.

Node contract::

    CenterMatch(features [B,N,D] T, centers [1|B,M,D] T)
        -> (recomposed [B,N,D] T, index [B,N] int64)
    T in {float32, float16}; domain "cras"; attributes plugin_namespace="cras", plugin_version="1".
"""

from __future__ import annotations

import onnx
from onnx import TensorProto, helper

from training.errors import ModelFileError

PLUGIN_NAMESPACE = "cras"
PLUGIN_NAME = "CenterMatch"
PLUGIN_VERSION = "1"
PLUGIN_ID = f"{PLUGIN_NAMESPACE}::{PLUGIN_NAME}"
ONNX_DOMAIN = "cras"
ONNX_DOMAIN_VERSION = 1
# Exactly these attributes, with these values: anything else reaches the plugin and fails.
REQUIRED_ATTRIBUTES: dict[str, str] = {
    "plugin_namespace": PLUGIN_NAMESPACE,
    "plugin_version": PLUGIN_VERSION,
}
ELEMENT_TYPES = (TensorProto.FLOAT, TensorProto.FLOAT16)


class PluginGraphError(ModelFileError):
    """An ONNX graph's CenterMatch node does not fit the TensorRT plugin."""


def make_center_match_node(
    features: str, centers: str, recomposed: str, index: str, *, name: str = "center_match"
) -> onnx.NodeProto:
    """A CenterMatch node wired to the given value names."""
    return helper.make_node(
        PLUGIN_NAME,
        inputs=[features, centers],
        outputs=[recomposed, index],
        name=name,
        domain=ONNX_DOMAIN,
        **REQUIRED_ATTRIBUTES,
    )


def center_match_opset() -> onnx.OperatorSetIdProto:
    """The opset import a model holding CenterMatch nodes must declare."""
    return helper.make_opsetid(ONNX_DOMAIN, ONNX_DOMAIN_VERSION)


def check_center_match_nodes(model: onnx.ModelProto) -> list[onnx.NodeProto]:
    """Check every CenterMatch node of ``model`` against the plugin's contract.

    Checks the domain and its opset import, the attributes, the number of
    inputs and outputs, and, where the graph declares them, element types and
    ranks (after ONNX shape inference).

    Returns:
        The CenterMatch nodes found (in graph order).

    Raises:
        PluginGraphError: No CenterMatch node, or any node breaks the contract;
            the message lists every problem.
    """
    nodes = [node for node in model.graph.node if node.op_type == PLUGIN_NAME]
    if not nodes:
        raise PluginGraphError(
            f"the ONNX graph has no {PLUGIN_NAME} node",
            hint="export the model for TensorRT with the center-matching plugin node",
        )
    declared = _declared_value_types(model)
    problems: list[str] = []
    if ONNX_DOMAIN not in {opset.domain for opset in model.opset_import}:
        problems.append(f"the model does not import the opset domain {ONNX_DOMAIN!r}")
    for node in nodes:
        problems += [f"node {node.name!r}: {problem}" for problem in _node_problems(node)]
        problems += [f"node {node.name!r}: {problem}" for problem in _type_problems(node, declared)]
    if problems:
        raise PluginGraphError(
            "CenterMatch nodes do not fit the TensorRT plugin:\n  " + "\n  ".join(problems),
            hint="rebuild them with engines.tensorrt_plugin.make_center_match_node",
        )
    return nodes


def _node_problems(node: onnx.NodeProto) -> list[str]:
    problems = []
    if node.domain != ONNX_DOMAIN:
        problems.append(f"domain is {node.domain!r}, expected {ONNX_DOMAIN!r}")
    attributes = {attribute.name: attribute for attribute in node.attribute}
    for name, expected in REQUIRED_ATTRIBUTES.items():
        if name not in attributes:
            problems.append(f"attribute {name} is missing")
            continue
        attribute = attributes[name]
        if attribute.type != onnx.AttributeProto.STRING:
            problems.append(f"attribute {name} must be a string")
        elif attribute.s.decode() != expected:
            problems.append(f"attribute {name} is {attribute.s.decode()!r}, expected {expected!r}")
    extra = sorted(set(attributes) - set(REQUIRED_ATTRIBUTES))
    if extra:
        problems.append(f"unexpected attributes {extra} (the plugin takes none)")
    if len(node.input) != 2 or not all(node.input):
        problems.append(f"needs 2 inputs (features, centers), has {list(node.input)}")
    if len(node.output) != 2 or not all(node.output):
        problems.append(f"needs 2 outputs (recomposed, index), has {list(node.output)}")
    return problems


def _declared_value_types(model: onnx.ModelProto) -> dict[str, onnx.TypeProto]:
    """Types of graph inputs, outputs and inferred intermediate values, by name."""
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # inference is a bonus check; a custom domain may stop it
        inferred = model
    graph = inferred.graph
    values = [*graph.input, *graph.value_info, *graph.output]
    types = {value.name: value.type for value in values}
    for initializer in graph.initializer:
        types[initializer.name] = helper.make_tensor_type_proto(
            initializer.data_type, list(initializer.dims)
        )
    return types


def _type_problems(node: onnx.NodeProto, declared: dict[str, onnx.TypeProto]) -> list[str]:
    if len(node.input) != 2 or len(node.output) != 2:
        return []  # already reported
    expected_ranks = dict(zip([*node.input, *node.output], (3, 3, 3, 2), strict=True))
    element_types = {}
    problems = []
    for value, rank in expected_ranks.items():
        if value not in declared or not declared[value].HasField("tensor_type"):
            continue
        tensor_type = declared[value].tensor_type
        if tensor_type.elem_type != TensorProto.UNDEFINED:
            element_types[value] = tensor_type.elem_type
        if tensor_type.HasField("shape") and len(tensor_type.shape.dim) != rank:
            problems.append(f"{value!r} has rank {len(tensor_type.shape.dim)}, expected {rank}")
    float_values = [*node.input, node.output[0]]
    float_types = {element_types[v] for v in float_values if v in element_types}
    if float_types - set(ELEMENT_TYPES) or len(float_types) > 1:
        names = [TensorProto.DataType.Name(t) for t in sorted(float_types)]
        problems.append(
            f"features, centers and recomposed must share FLOAT or FLOAT16, got {names}"
        )
    index_type = element_types.get(node.output[1])
    if index_type is not None and index_type != TensorProto.INT64:
        problems.append(f"index output must be INT64, got {TensorProto.DataType.Name(index_type)}")
    return problems

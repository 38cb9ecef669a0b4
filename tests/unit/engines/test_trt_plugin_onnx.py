"""The CenterMatch node handed to TensorRT's ONNX parser, and the plugin registration.

Without TensorRT: the node builder and checker, and the clear error when the
plugin is registered without TensorRT. With a GPU and TensorRT: an engine is
built from such a graph through the parser and compared with the reference.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from engines.kernels import KernelUnavailableError
from engines.tensorrt_plugin import (
    PluginGraphError,
    center_match_opset,
    check_center_match_nodes,
    make_center_match_node,
    register_center_match_plugin,
)
from tests.conftest import require
from tests.unit.engines.test_center_match_triton import assert_matches_reference

TENSORRT_INSTALLED = importlib.util.find_spec("tensorrt") is not None


def center_match_model(
    *,
    element_type: int = TensorProto.FLOAT16,
    index_type: int = TensorProto.INT64,
    rows: int = 64,
    centers_rows: int = 48,
    dim: int = 32,
    shared_centers: np.ndarray | None = None,
) -> onnx.ModelProto:
    """features [B,N,D] (dynamic B) -> CenterMatch -> recomposed, index.

    Centers are a graph input [B,M,D], or an initializer [1,M,D] when given.
    """
    features = helper.make_tensor_value_info("features", element_type, ["batch", rows, dim])
    inputs = [features]
    initializers = []
    if shared_centers is None:
        inputs.append(
            helper.make_tensor_value_info("centers", element_type, ["batch", centers_rows, dim])
        )
    else:
        initializers.append(numpy_helper.from_array(shared_centers, name="centers"))
    outputs = [
        helper.make_tensor_value_info("recomposed", element_type, ["batch", rows, dim]),
        helper.make_tensor_value_info("index", index_type, ["batch", rows]),
    ]
    graph = helper.make_graph(
        [make_center_match_node("features", "centers", "recomposed", "index")],
        "center_match",
        inputs,
        outputs,
        initializer=initializers,
    )
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), center_match_opset()]
    )


def test_built_node_passes_the_onnx_checker_and_ours() -> None:
    model = center_match_model()
    onnx.checker.check_model(model)

    (node,) = check_center_match_nodes(model)

    assert node.op_type == "CenterMatch"
    assert node.domain == "cras"
    attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    assert attributes == {"plugin_namespace": b"cras", "plugin_version": b"1"}
    assert list(node.input) == ["features", "centers"]
    assert list(node.output) == ["recomposed", "index"]


def test_shared_centers_initializer_passes() -> None:
    centers = np.random.default_rng(0).standard_normal((1, 48, 32)).astype(np.float16)
    assert len(check_center_match_nodes(center_match_model(shared_centers=centers))) == 1


def drop_attribute(name: str) -> Callable[[onnx.ModelProto], None]:
    def corrupt(model: onnx.ModelProto) -> None:
        node = model.graph.node[0]
        kept = [a for a in node.attribute if a.name != name]
        del node.attribute[:]
        node.attribute.extend(kept)

    return corrupt


def set_attribute(name: str, value: object) -> Callable[[onnx.ModelProto], None]:
    def corrupt(model: onnx.ModelProto) -> None:
        drop_attribute(name)(model)
        model.graph.node[0].attribute.append(helper.make_attribute(name, value))

    return corrupt


def set_domain(model: onnx.ModelProto) -> None:
    model.graph.node[0].domain = ""


def drop_opset(model: onnx.ModelProto) -> None:
    kept = [opset for opset in model.opset_import if opset.domain != "cras"]
    del model.opset_import[:]
    model.opset_import.extend(kept)


def drop_input(model: onnx.ModelProto) -> None:
    del model.graph.node[0].input[1]


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (drop_attribute("plugin_namespace"), "attribute plugin_namespace is missing"),
        (set_attribute("plugin_namespace", "other"), "plugin_namespace is 'other'"),
        (set_attribute("plugin_version", "2"), "plugin_version is '2'"),
        (set_attribute("plugin_version", 1), "plugin_version must be a string"),
        (set_attribute("block_n", 64), "unexpected attributes ['block_n']"),
        (set_domain, "domain is ''"),
        (drop_opset, "does not import the opset domain 'cras'"),
        (drop_input, "needs 2 inputs"),
    ],
    ids=[
        "no-namespace",
        "wrong-namespace",
        "wrong-version",
        "int-version",
        "extra-attribute",
        "default-domain",
        "no-opset",
        "one-input",
    ],
)
def test_checker_names_what_the_parser_would_trip_on(
    corrupt: Callable[[onnx.ModelProto], None], message: str
) -> None:
    model = center_match_model()
    corrupt(model)

    with pytest.raises(PluginGraphError) as info:
        check_center_match_nodes(model)

    assert message in str(info.value)
    assert "make_center_match_node" in info.value.hint


def test_checker_rejects_an_int32_index_output() -> None:
    with pytest.raises(PluginGraphError, match="index output must be INT64, got INT32"):
        check_center_match_nodes(center_match_model(index_type=TensorProto.INT32))


def test_checker_rejects_mixed_float_types() -> None:
    centers = np.ones((1, 48, 32), dtype=np.float32)
    model = center_match_model(element_type=TensorProto.FLOAT16, shared_centers=centers)
    with pytest.raises(PluginGraphError, match="must share FLOAT or FLOAT16"):
        check_center_match_nodes(model)


def test_checker_rejects_a_graph_without_the_node() -> None:
    model = center_match_model()
    model.graph.node[0].op_type = "Identity"
    with pytest.raises(PluginGraphError, match="no CenterMatch node"):
        check_center_match_nodes(model)


@pytest.mark.skipif(TENSORRT_INSTALLED, reason="TensorRT is installed here")
def test_registering_without_tensorrt_says_what_to_install() -> None:
    with pytest.raises(KernelUnavailableError, match="needs TensorRT") as info:
        register_center_match_plugin(arch=90)
    assert "pip install" in info.value.hint


@pytest.mark.gpu
@pytest.mark.parametrize(
    ("element_type", "dtype"),
    [(TensorProto.FLOAT, torch.float32), (TensorProto.FLOAT16, torch.float16)],
)
@pytest.mark.parametrize("shared", [True, False])
def test_engine_built_through_the_parser_matches_reference(
    element_type: int, dtype: torch.dtype, shared: bool
) -> None:
    require(TENSORRT_INSTALLED, "TensorRT (pip install 'cras-station[gpu]')")
    import tensorrt as trt

    register_center_match_plugin()
    rows, centers_rows, dim, batch = 300, 257, 96, 3
    generator = torch.Generator().manual_seed(5)
    features = torch.randn(batch, rows, dim, generator=generator).to(dtype)
    centers = torch.randn(1 if shared else batch, centers_rows, dim, generator=generator).to(dtype)
    model = center_match_model(
        element_type=element_type,
        rows=rows,
        centers_rows=centers_rows,
        dim=dim,
        shared_centers=centers.numpy() if shared else None,
    )
    check_center_match_nodes(model)

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    assert parser.parse(model.SerializeToString()), [
        str(parser.get_error(i)) for i in range(parser.num_errors)
    ]
    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    for name, extent in (("features", rows), ("centers", centers_rows)):
        if name == "features" or not shared:
            profile.set_shape(name, (1, extent, dim), (batch, extent, dim), (8, extent, dim))
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    assert serialized is not None, "TensorRT could not build the engine"
    engine = trt.Runtime(logger).deserialize_cuda_engine(serialized)
    context = engine.create_execution_context()

    device_inputs = {"features": features.cuda()}
    if not shared:
        device_inputs["centers"] = centers.cuda()
    recomposed = torch.empty(batch, rows, dim, dtype=dtype, device="cuda")
    index = torch.empty(batch, rows, dtype=torch.int64, device="cuda")
    for name, tensor in device_inputs.items():
        context.set_input_shape(name, tuple(tensor.shape))
        context.set_tensor_address(name, tensor.data_ptr())
    context.set_tensor_address("recomposed", recomposed.data_ptr())
    context.set_tensor_address("index", index.data_ptr())
    stream = torch.cuda.current_stream()
    assert context.execute_async_v3(stream.cuda_stream)
    stream.synchronize()

    assert_matches_reference(
        {"features": features, "centers": centers},
        {"recomposed": recomposed.cpu(), "index": index.cpu()},
        exact=False,
    )

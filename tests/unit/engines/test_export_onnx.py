"""ONNX export: graph contract, the CenterMatch node and its function body, metadata, errors.

The model is a real, untrained 64-px CRAS model (training/testing.py);
ONNX Runtime runs every exported file as is, and its outputs are compared
with the PyTorch model's on seeded generated fabric (real AITEX tiles:
tests/integration/engines/test_onnx_parity_aitex.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from engines.errors import ArtefactError
from engines.export import build_onnx_model, export_onnx, load_onnx_artefact
from engines.export.center_match_op import center_match_function
from engines.export.onnx_export import ONNX_OPSET
from engines.export.onnx_graph import fold_constants, tensorrt_onnx
from engines.tensorrt.build import parser_input
from engines.tensorrt_plugin import check_center_match_nodes, make_center_match_node
from engines.tensorrt_plugin.onnx_node import center_match_opset
from training.cras.center_matching import center_match_reference
from training.model_file import load_model
from training.testing import fabric_tiles, shared_model_dir


@pytest.fixture(scope="module")
def loaded_model():
    return load_model(shared_model_dir(tile_px=64))


@pytest.fixture(scope="module")
def onnx_files(loaded_model, tmp_path_factory) -> dict[str, Path]:
    model, metadata = loaded_model
    folder = tmp_path_factory.mktemp("onnx")
    paths = {}
    for precision in ("fp32", "fp16"):
        paths[precision] = folder / f"model_{precision}.onnx"
        export_onnx(model, metadata, paths[precision], precision=precision)
    return paths


def ort_session(path: Path | bytes) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    source = str(path) if isinstance(path, Path) else path
    return onnxruntime.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def generated_tiles(count: int, *, seed: int) -> np.ndarray:
    return fabric_tiles("fine_twill", count=count, tile_px=64, channels=1, seed=seed)


def test_graph_has_one_plugin_ready_center_match_node(onnx_files) -> None:
    graph = onnx.load(str(onnx_files["fp32"]))

    (node,) = check_center_match_nodes(graph)

    attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    assert (node.domain, node.op_type) == ("cras", "CenterMatch")
    assert attributes == {"plugin_namespace": b"cras", "plugin_version": b"1"}
    assert {(o.domain, o.version) for o in graph.opset_import} >= {("", ONNX_OPSET), ("cras", 1)}
    assert [(f.domain, f.name) for f in graph.functions] == [("cras", "CenterMatch")]


def dims_of(value: onnx.ValueInfoProto) -> list[int | str]:
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


def test_graph_interface_uint8_in_named_outputs_dynamic_batch(onnx_files) -> None:
    graph = onnx.load(str(onnx_files["fp32"]))

    (tiles,) = graph.graph.input
    assert tiles.name == "tiles" and tiles.type.tensor_type.elem_type == TensorProto.UINT8
    assert dims_of(tiles) == ["batch", 64, 64, 1]
    outputs = {o.name: (o.type.tensor_type.elem_type, dims_of(o)) for o in graph.graph.output}
    assert outputs == {
        "tile_score": (TensorProto.FLOAT, ["batch"]),
        "score_grid": (TensorProto.FLOAT, ["batch", 8, 8]),
        "anomaly_map": (TensorProto.FLOAT, ["batch", 64, 64]),
        "matched_class": (TensorProto.INT64, ["batch"]),
    }
    # TensorRT takes a uint8 input only into a Cast: the input's only consumer must be one.
    consumers = [n for n in graph.graph.node if "tiles" in n.input]
    assert [(n.op_type, helper.get_attribute_value(n.attribute[0])) for n in consumers] == [
        ("Cast", TensorProto.FLOAT)
    ]


def test_metadata_props_carry_model_identity(onnx_files, loaded_model) -> None:
    _, metadata = loaded_model
    graph = onnx.load(str(onnx_files["fp16"]))
    props = {p.key: json.loads(p.value) for p in graph.metadata_props}

    assert props["cras.model_hash"] == metadata.model_hash
    assert props["cras.classes"] == ["a", "b"]
    assert props["cras.tile_px"] == 64 and props["cras.in_channels"] == 1
    assert props["cras.tile_threshold"] == pytest.approx(metadata.calibration.tile_threshold)
    assert props["cras.pixel_threshold"] == pytest.approx(metadata.calibration.pixel_threshold)
    assert props["cras.precision"] == "fp16"
    _, artefact = load_onnx_artefact(onnx_files["fp16"])
    assert artefact.model_hash == metadata.model_hash and artefact.grid_px == 8


@pytest.mark.parametrize("batch", [1, 3])
def test_onnxruntime_runs_the_file_as_is_and_matches_pytorch(onnx_files, loaded_model, batch):
    model, _ = loaded_model
    tiles = generated_tiles(batch, seed=11 + batch)

    outputs = ort_session(onnx_files["fp32"]).run(None, {"tiles": tiles})
    with torch.no_grad():
        expected = model(torch.from_numpy(tiles))

    for name, got, want in zip(expected._fields, outputs, expected, strict=True):
        assert got.shape == tuple(want.shape), name
        np.testing.assert_allclose(got, want.numpy(), atol=2e-5, rtol=0, err_msg=name)


def test_fp16_export_computes_in_half_and_stays_close(onnx_files, loaded_model) -> None:
    model, _ = loaded_model
    graph = onnx.load(str(onnx_files["fp16"]))
    initializers = {i.name: i for i in graph.graph.initializer}
    weights = [
        initializers[name]
        for node in graph.graph.node
        if node.op_type in ("Conv", "Gemm")
        for name in node.input
        if name in initializers
    ]
    assert weights and {w.data_type for w in weights} == {TensorProto.FLOAT16}
    # Only the float32 islands keep float32 constants: statistics and the stored centers.
    elements = {TensorProto.FLOAT: 0, TensorProto.FLOAT16: 0}
    for init in initializers.values():
        if init.data_type in elements:
            elements[init.data_type] += int(np.prod(init.dims))
    assert elements[TensorProto.FLOAT16] > 9 * elements[TensorProto.FLOAT]
    check_center_match_nodes(graph)  # also checks its inputs are one float type
    tiles = generated_tiles(4, seed=5)

    tile_score, _, anomaly_map, matched = ort_session(onnx_files["fp16"]).run(
        None, {"tiles": tiles}
    )
    with torch.no_grad():
        expected = model(torch.from_numpy(tiles))

    assert tile_score.dtype == np.float32 and anomaly_map.dtype == np.float32
    np.testing.assert_allclose(tile_score, expected.tile_score.numpy(), atol=2e-2)
    np.testing.assert_allclose(anomaly_map, expected.anomaly_map.numpy(), atol=3e-2)
    np.testing.assert_array_equal(matched, expected.matched_class.numpy())


def center_match_only_model(*, rows: int, centers_rows: int, dim: int, element: int, shared: bool):
    features = helper.make_tensor_value_info("features", element, ["batch", rows, dim])
    centers = helper.make_tensor_value_info(
        "centers", element, [1 if shared else "batch", centers_rows, dim]
    )
    graph = helper.make_graph(
        [make_center_match_node("features", "centers", "recomposed", "index")],
        "center_match",
        [features, centers],
        [
            helper.make_tensor_value_info("recomposed", element, ["batch", rows, dim]),
            helper.make_tensor_value_info("index", TensorProto.INT64, ["batch", rows]),
        ],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", ONNX_OPSET), center_match_opset()],
        functions=[center_match_function(opset=ONNX_OPSET)],
    )
    onnx.checker.check_model(model)
    return model


@pytest.mark.parametrize(
    ("rows", "centers_rows", "dim", "dtype", "shared"),
    [
        (64, 64, 384, np.float32, False),
        (37, 23, 19, np.float32, True),
        (50, 31, 40, np.float16, False),
        (5, 3, 7, np.float16, True),
    ],
)
def test_function_body_equals_the_reference(rows, centers_rows, dim, dtype, shared) -> None:
    element = TensorProto.FLOAT if dtype == np.float32 else TensorProto.FLOAT16
    model = center_match_only_model(
        rows=rows, centers_rows=centers_rows, dim=dim, element=element, shared=shared
    )
    rng = np.random.default_rng(rows + dim)
    batch = 3
    features = rng.standard_normal((batch, rows, dim)).astype(dtype)
    centers = rng.standard_normal((1 if shared else batch, centers_rows, dim)).astype(dtype)

    recomposed, index = ort_session(model.SerializeToString()).run(
        None, {"features": features, "centers": centers}
    )

    want_recomposed, want_index = center_match_reference(
        torch.from_numpy(features), torch.from_numpy(centers)
    )
    np.testing.assert_array_equal(index, want_index.numpy())
    np.testing.assert_array_equal(recomposed, want_recomposed.numpy())
    assert recomposed.dtype == dtype


def test_function_body_breaks_ties_to_the_lowest_index() -> None:
    model = center_match_only_model(
        rows=2, centers_rows=6, dim=4, element=TensorProto.FLOAT, shared=True
    )
    centers = np.random.default_rng(3).standard_normal((1, 6, 4)).astype(np.float32)
    centers[0, 4] = centers[0, 1] * 2.0  # same direction as row 1: a cosine tie
    features = np.stack([centers[0, 1], centers[0, 4]])[None].astype(np.float32)

    _, index = ort_session(model.SerializeToString()).run(
        None, {"features": features, "centers": centers}
    )

    assert index.tolist() == [[1, 1]]


def test_tensorrt_parser_gets_the_node_without_its_function(onnx_files) -> None:
    serialized, artefact = parser_input(onnx_files["fp16"])
    handed = onnx.load_from_string(serialized)

    (node,) = check_center_match_nodes(handed)
    assert not [f for f in handed.functions if f.domain == "cras"]
    assert {a.name: a.s for a in node.attribute} == {
        "plugin_namespace": b"cras",
        "plugin_version": b"1",
    }
    assert artefact.precision == "fp16"
    # The file itself keeps the body, so ONNX Runtime can still run it.
    assert len(onnx.load(str(onnx_files["fp16"])).functions) == 1
    assert tensorrt_onnx(onnx.load(str(onnx_files["fp16"]))).graph == handed.graph


def test_fold_constants_evaluates_constant_shape_arithmetic() -> None:
    values = numpy_helper.from_array(np.arange(6, dtype=np.int64), "values")
    starts = numpy_helper.from_array(np.array([-1], dtype=np.int64), "starts")
    ends = numpy_helper.from_array(np.array([-100], dtype=np.int64), "ends")
    axes = numpy_helper.from_array(np.array([0], dtype=np.int64), "axes")
    steps = numpy_helper.from_array(np.array([-2], dtype=np.int64), "steps")
    nodes = [
        helper.make_node("Slice", ["values", "starts", "ends", "axes", "steps"], ["reversed"]),
        helper.make_node("Cast", ["reversed"], ["as_float"], to=TensorProto.FLOAT),
        helper.make_node("Add", ["x", "as_float"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])],
        initializer=[values, starts, ends, axes, steps],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)])
    x = np.array([0.5, 1.5, 2.5], dtype=np.float32)
    before = ort_session(model.SerializeToString()).run(None, {"x": x})[0]

    assert fold_constants(model) == 2

    assert [n.op_type for n in model.graph.node] == ["Add"]
    assert {i.name for i in model.graph.initializer} == {"as_float"}
    np.testing.assert_array_equal(
        ort_session(model.SerializeToString()).run(None, {"x": x})[0], before
    )
    np.testing.assert_array_equal(before, [5.5, 4.5, 3.5])


def test_export_does_not_modify_the_model(loaded_model) -> None:
    model, metadata = loaded_model
    before = type(model.center_match)

    build_onnx_model(model, metadata, precision="fp16")

    assert type(model.center_match) is before
    assert next(model.adaptor.parameters()).dtype == torch.float32


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        (b"", "holds no ONNX graph"),
        (b"\x08\x07\x12\xff\xff\xff\xff\x0fgarbage", "not a readable ONNX file"),
    ],
    ids=["missing", "empty", "garbage"],
)
def test_unreadable_onnx_files_are_rejected_with_a_hint(tmp_path, content, message) -> None:
    path = tmp_path / "model.onnx"
    if content is not None:
        path.write_bytes(content)

    with pytest.raises(ArtefactError, match=message) as info:
        load_onnx_artefact(path)

    assert "station export" in info.value.hint


def test_truncated_export_is_rejected(onnx_files, tmp_path) -> None:
    truncated = tmp_path / "truncated.onnx"
    data = onnx_files["fp32"].read_bytes()
    truncated.write_bytes(data[: len(data) // 2])

    with pytest.raises(ArtefactError, match="not a readable ONNX file"):
        load_onnx_artefact(truncated)


def test_onnx_file_without_our_metadata_is_rejected(tmp_path) -> None:
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "plain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    path = tmp_path / "plain.onnx"
    onnx.save(helper.make_model(graph), str(path))

    with pytest.raises(ArtefactError, match="carries no cras-station metadata"):
        load_onnx_artefact(path)


def test_onnx_file_from_a_newer_format_is_rejected(onnx_files, tmp_path) -> None:
    graph = onnx.load(str(onnx_files["fp32"]))
    for prop in graph.metadata_props:
        if prop.key == "cras.format_version":
            prop.value = "99"
    path = tmp_path / "newer.onnx"
    onnx.save(graph, str(path))

    with pytest.raises(ArtefactError, match="newer cras-station") as info:
        load_onnx_artefact(path)
    assert "update cras-station" in info.value.hint


def test_colour_model_exports_and_runs(tmp_path) -> None:
    model, metadata = load_model(shared_model_dir(tile_px=64, in_channels=3))
    path = tmp_path / "colour.onnx"
    export_onnx(model, metadata, path, precision="fp32")
    tiles = fabric_tiles("fine_twill", count=2, tile_px=64, channels=3, seed=8)

    tile_score, *_ = ort_session(path).run(None, {"tiles": tiles})

    with torch.no_grad():
        expected = model(torch.from_numpy(tiles)).tile_score.numpy()
    np.testing.assert_allclose(tile_score, expected, atol=2e-5, rtol=0)
    (tiles_input,) = onnx.load(str(path)).graph.input
    assert dims_of(tiles_input) == ["batch", 64, 64, 3]

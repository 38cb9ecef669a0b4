"""Local center matching as one ``cras::CenterMatch`` ONNX node with a standard-op body.

While exporting, the model's ``center_match`` submodule is replaced by
:class:`ExportCenterMatch`: in PyTorch it computes the reference result; in the
traced graph it becomes a single node in domain ``cras`` with the attributes
TensorRT's parser needs to bind it to the plugin (see
:mod:`engines.tensorrt_plugin.onnx_node`).

:func:`center_match_function` is the node's ONNX function body, made of
standard operators only, which is added to the model's ``functions`` so that
ONNX Runtime (or any other runtime) can run the file as is. It follows the
PyTorch reference: cosine similarity computed in float32, first maximum on
ties, recomposed = the unnormalised center row in the centers' type.
"""

from __future__ import annotations

import onnx
import torch
from onnx import TensorProto, helper

from engines.tensorrt_plugin.onnx_node import (
    ONNX_DOMAIN,
    PLUGIN_NAME,
    REQUIRED_ATTRIBUTES,
)
from training.cras.center_matching import NORM_EPS, center_match_chunked


class CenterMatchFunction(torch.autograd.Function):
    """Reference center matching that exports as a ``cras::CenterMatch`` node."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: object, features: torch.Tensor, centers: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return center_match_chunked(features, centers)

    @staticmethod
    def symbolic(g: object, features: object, centers: object) -> tuple[object, object]:
        """Emit the node; declare output types so shape inference continues past it."""
        attributes = {f"{name}_s": value for name, value in REQUIRED_ATTRIBUTES.items()}
        recomposed, index = g.op(  # type: ignore[attr-defined]
            f"{ONNX_DOMAIN}::{PLUGIN_NAME}", features, centers, outputs=2, **attributes
        )
        feature_type = features.type()  # type: ignore[attr-defined]
        recomposed.setType(feature_type)
        sizes = feature_type.varyingSizes()
        index_sizes = sizes[:2] if sizes is not None else [None, None]
        index.setType(feature_type.with_dtype(torch.int64).with_sizes(index_sizes))
        return recomposed, index


class ExportCenterMatch(torch.nn.Module):
    """Drop-in for ``CrasModel.center_match`` during export.

    The centers are cast to the features' type (an fp16 export keeps the
    stored centers in fp32 for the global class match; the node, like the
    TensorRT plugin, takes one float type).

    forward(features [B, N, D], centers [B|1, M, D]) -> (recomposed [B, N, D], index [B, N]).
    """

    def forward(
        self, features: torch.Tensor, centers: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return CenterMatchFunction.apply(features, centers.to(features.dtype))


def center_match_function(*, opset: int) -> onnx.FunctionProto:
    """The body of ``cras::CenterMatch`` in standard ONNX operators.

    Inputs ``features`` [B, N, D] and ``centers`` [B|1, M, D] (float or float16);
    outputs ``recomposed`` [B, N, D] (centers' type) and ``index`` [B, N] int64.

    Args:
        opset: Default-domain opset of the model (the body uses the same one, >= 15).
    """
    node = helper.make_node
    eps = helper.make_tensor("eps", TensorProto.FLOAT, [], [NORM_EPS])
    last_axis = helper.make_tensor("last_axis", TensorProto.INT64, [1], [-1])
    body = [
        node("Constant", [], ["eps"], value=eps),
        node("Constant", [], ["last_axis"], value=last_axis),
        # Unit vectors in float32, as the reference computes them.
        node("Cast", ["features"], ["features_f"], to=TensorProto.FLOAT),
        node("ReduceL2", ["features_f"], ["features_norm"], axes=[-1], keepdims=1),
        node("Max", ["features_norm", "eps"], ["features_scale"]),
        node("Div", ["features_f", "features_scale"], ["features_unit"]),
        node("Cast", ["centers"], ["centers_f"], to=TensorProto.FLOAT),
        node("ReduceL2", ["centers_f"], ["centers_norm"], axes=[-1], keepdims=1),
        node("Max", ["centers_norm", "eps"], ["centers_scale"]),
        node("Div", ["centers_f", "centers_scale"], ["centers_unit"]),
        node("Transpose", ["centers_unit"], ["centers_unit_t"], perm=[0, 2, 1]),
        # [B, N, D] x [B|1, D, M] -> [B, N, M]; MatMul broadcasts a shared center.
        node("MatMul", ["features_unit", "centers_unit_t"], ["similarity"]),
        node("ArgMax", ["similarity"], ["index"], axis=2, keepdims=0, select_last_index=0),
        # Recompose: centers broadcast to [B, M, D], rows picked per feature row.
        node("Shape", ["features"], ["batch"], start=0, end=1),
        node("Shape", ["features"], ["batch_rows"], start=0, end=2),
        node("Shape", ["centers"], ["centers_rows_dim"], start=1, end=3),
        node("Shape", ["centers"], ["dim"], start=2, end=3),
        node("Concat", ["batch", "centers_rows_dim"], ["centers_shape"], axis=0),
        node("Expand", ["centers", "centers_shape"], ["centers_b"]),
        node("Concat", ["batch_rows", "dim"], ["gather_shape"], axis=0),
        node("Unsqueeze", ["index", "last_axis"], ["index_col"]),
        node("Expand", ["index_col", "gather_shape"], ["gather_index"]),
        node("GatherElements", ["centers_b", "gather_index"], ["recomposed"], axis=1),
    ]  # fmt: skip
    return helper.make_function(
        ONNX_DOMAIN,
        PLUGIN_NAME,
        inputs=["features", "centers"],
        outputs=["recomposed", "index"],
        nodes=body,
        opset_imports=[helper.make_opsetid("", opset)],
        attributes=list(REQUIRED_ATTRIBUTES),
    )

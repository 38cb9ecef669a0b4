"""Public entry points for center matching: pick an implementation, validate, run.

``impl`` chooses how local center matching runs:

* ``"triton"``: the fused Triton kernel (:mod:`engines.kernels.triton_center_match`),
  compiled for CUDA tensors. CPU tensors need Triton's interpreter, which a
  process gets by having ``TRITON_INTERPRET=1`` set before Triton is first
  imported (tests do this in a subprocess; it is far too slow for production).
  An interpreting process runs CUDA tensors through the interpreter as well.
* ``"torch"``: :func:`training.cras.center_matching.center_match_chunked`, the
  memory-lean PyTorch implementation (at most ``B x chunk_rows x M`` similarities
  at once); the CPU fallback.
* ``"auto"``: ``"triton"`` for CUDA tensors when Triton is installed, else ``"torch"``.

All implementations follow the reference's contract: cosine similarity,
argmax with ties to the lowest index, recomposed = the unnormalised center row.
"""

from __future__ import annotations

import importlib.util
from typing import Literal

import torch

from engines.kernels.config import (
    INPUT_DTYPES,
    TRITON_KERNEL_DTYPES,
    KernelConfig,
    default_config,
)
from engines.kernels.errors import CenterMatchInputError, KernelUnavailableError
from training.cras.center_matching import center_match_chunked, match_classes_reference

CenterMatchImpl = Literal["auto", "triton", "torch"]
_IMPLS: tuple[str, ...] = ("auto", "triton", "torch")


def triton_installed() -> bool:
    """True when the ``triton`` package can be imported."""
    return importlib.util.find_spec("triton") is not None


def triton_interpreter_enabled() -> bool:
    """True when this process's Triton runs kernels in its interpreter.

    Imports Triton (and so fixes its mode) if nothing has yet: the mode follows
    ``TRITON_INTERPRET`` at that first import and never changes afterwards.
    """
    if not triton_installed():
        return False
    from engines.kernels.triton_center_match import triton_runs_interpreted

    return triton_runs_interpreted()


def center_match(
    features: torch.Tensor,
    centers: torch.Tensor,
    *,
    impl: CenterMatchImpl = "auto",
    config: KernelConfig | None = None,
    chunk_rows: int = 256,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Local center matching: for every feature row, the most cosine-similar center row.

    Args:
        features: Adapted features, [B, N, D] (fp32, fp16 or bf16).
        centers: The matched class's center per item, [B, M, D], or [1, M, D]
            shared by the whole batch; on the same device as ``features``.
        impl: "triton", "torch" or "auto" (see the module docstring).
        config: Triton block sizes; :func:`default_config` for the dtype if None.
        chunk_rows: Feature rows per step of the PyTorch implementation.

    Returns:
        ``(recomposed, index)``: the chosen center rows [B, N, D] in the centers'
        dtype and their positions in the center [B, N] int64.

    Raises:
        CenterMatchInputError: Shapes, dtypes or devices do not fit together.
        KernelUnavailableError: ``impl="triton"`` cannot run here.
    """
    _check_inputs(features, centers)
    chosen = resolve_impl(impl, features.device)
    if chosen == "torch":
        return center_match_chunked(features, centers, chunk_rows=chunk_rows)
    from engines.kernels.triton_center_match import run_center_match

    compute_dtype = torch.promote_types(features.dtype, centers.dtype)
    if compute_dtype not in TRITON_KERNEL_DTYPES:
        compute_dtype = torch.float32  # bf16: exact upcast (the interpreter's bf16 dot is wrong)
    recomposed, index = run_center_match(
        features.to(compute_dtype),
        centers.to(compute_dtype),
        config=config or default_config(compute_dtype),
    )
    # Promotion only ever widens the centers, so narrowing back is exact.
    return recomposed.to(centers.dtype), index


def resolve_impl(impl: str, device: torch.device) -> Literal["triton", "torch"]:
    """Turn ``impl`` into the implementation that will run on ``device``.

    Raises:
        CenterMatchInputError: ``impl`` is not one of "auto", "triton", "torch".
        KernelUnavailableError: "triton" was asked for where it cannot run.
    """
    if impl not in _IMPLS:
        raise CenterMatchInputError(
            f"unknown center-matching implementation {impl!r}",
            hint=f"use one of {', '.join(_IMPLS)}",
        )
    on_cuda = device.type == "cuda"
    if impl == "torch" or (impl == "auto" and not (on_cuda and triton_installed())):
        return "torch"
    if not triton_installed():
        raise KernelUnavailableError(
            "the Triton center-matching kernel needs the `triton` package, which is not installed",
            hint="pip install 'cras-station[kernels]', or use impl='torch'",
        )
    if not on_cuda and not triton_interpreter_enabled():
        raise KernelUnavailableError(
            f"the Triton kernel cannot run on {device.type} tensors without a GPU",
            hint="move the tensors to a CUDA device, start the process with TRITON_INTERPRET=1 "
            "to run it in Triton's (slow) interpreter, or use impl='torch'",
        )
    return "triton"


def match_classes(
    features: torch.Tensor, class_centers: torch.Tensor, *, impl: CenterMatchImpl = "auto"
) -> torch.Tensor:
    """Global center matching: the most cosine-similar class per image.

    One [B, N*D] x [N*D, K] matrix product; PyTorch runs it well on every
    device, so every ``impl`` uses it (a kernel would only add a launch).

    Args:
        features: Adapted feature maps, [B, N, D].
        class_centers: Contextual centers of all K classes, [K, N, D].
        impl: Accepted for symmetry with :func:`center_match`; validated only.

    Returns:
        Index of the most similar class per image, [B] int64 (ties: lowest).
    """
    if impl not in _IMPLS:
        raise CenterMatchInputError(
            f"unknown center-matching implementation {impl!r}",
            hint=f"use one of {', '.join(_IMPLS)}",
        )
    if features.dim() != 3 or class_centers.dim() != 3:
        raise CenterMatchInputError(
            f"expected features [B,N,D] and class centers [K,N,D], got "
            f"{tuple(features.shape)} and {tuple(class_centers.shape)}",
            hint="pass the adapted feature map flattened to positions x channels",
        )
    if features.shape[1:] != class_centers.shape[1:] or class_centers.shape[0] == 0:
        raise CenterMatchInputError(
            f"class centers {tuple(class_centers.shape)} do not fit features "
            f"{tuple(features.shape)}",
            hint="the centers must come from the same backbone and tile size as the features",
        )
    _check_same_device(features, class_centers)
    return match_classes_reference(features, class_centers)


def _check_inputs(features: torch.Tensor, centers: torch.Tensor) -> None:
    if features.dim() != 3 or centers.dim() != 3:
        raise CenterMatchInputError(
            f"expected features [B,N,D] and centers [B|1,M,D], got {tuple(features.shape)} "
            f"and {tuple(centers.shape)}",
            hint="pass the adapted feature map flattened to positions x channels",
        )
    batch, _, dim = features.shape
    if centers.shape[-1] != dim:
        raise CenterMatchInputError(
            f"feature size {dim} differs from the centers' {centers.shape[-1]}",
            hint="the centers must come from the same backbone as the features",
        )
    if centers.shape[0] not in (1, batch):
        raise CenterMatchInputError(
            f"centers hold {centers.shape[0]} items for a batch of {batch}",
            hint="give one center per item [B,M,D] or one shared center [1,M,D]",
        )
    if centers.shape[1] == 0:
        raise CenterMatchInputError(
            "the center has no rows (M = 0)", hint="compute the centers before matching"
        )
    for name, tensor in (("features", features), ("centers", centers)):
        if tensor.dtype not in INPUT_DTYPES:
            raise CenterMatchInputError(
                f"{name} have dtype {tensor.dtype}; center matching needs a floating type",
                hint="convert to float32, float16 or bfloat16",
            )
    _check_same_device(features, centers)


def _check_same_device(first: torch.Tensor, second: torch.Tensor) -> None:
    if first.device != second.device:
        raise CenterMatchInputError(
            f"features are on {first.device} but centers on {second.device}",
            hint="move both to the same device before matching",
        )

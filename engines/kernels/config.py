"""Tile sizes and launch options of the center-matching kernel (no Triton import)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from engines.kernels.errors import CenterMatchInputError

DotPrecision = Literal["ieee", "tf32", "tf32x3"]

# Dtypes center matching accepts for features and centers.
INPUT_DTYPES: tuple[torch.dtype, ...] = (torch.float32, torch.float16, torch.bfloat16)
# Dtypes the Triton kernel computes in; other inputs are promoted to float32 first.
TRITON_KERNEL_DTYPES: tuple[torch.dtype, ...] = (torch.float32, torch.float16)


@dataclass(frozen=True)
class KernelConfig:
    """Block sizes and launch options.

    Attributes:
        block_n: Feature rows per program (>= 16, a power of two).
        block_m: Center rows per inner block (>= 16, a power of two).
        block_d: Feature-dimension chunk per ``tl.dot`` (>= 16, a power of two).
        num_warps: Warps per program (GPU only).
        num_stages: Software-pipelining stages (GPU only).
        fp32_precision: ``tl.dot`` input precision for fp32 inputs. "ieee" keeps
            full fp32 products so indices match the reference; "tf32x3" is
            close to fp32 and uses tensor cores; "tf32" is fast but may pick a
            different center on near-ties.
    """

    block_n: int = 64
    block_m: int = 64
    block_d: int = 64
    num_warps: int = 4
    num_stages: int = 3
    fp32_precision: DotPrecision = "ieee"

    def __post_init__(self) -> None:
        for name in ("block_n", "block_m", "block_d"):
            value = getattr(self, name)
            if value < 16 or value & (value - 1):
                raise CenterMatchInputError(
                    f"KernelConfig.{name} must be a power of two >= 16, got {value}",
                    hint="use 16, 32, 64 or 128 (tl.dot needs tiles of at least 16)",
                )
        if self.num_warps < 1 or self.num_warps & (self.num_warps - 1):
            raise CenterMatchInputError(
                f"KernelConfig.num_warps must be a power of two, got {self.num_warps}",
                hint="use 4 or 8",
            )


def default_config(dtype: torch.dtype) -> KernelConfig:
    """The tile sizes used when none are given: 64x64 tiles, D in chunks of 64 (32 for fp32)."""
    if dtype == torch.float32:
        return KernelConfig(block_d=32, num_stages=2)
    return KernelConfig()


def dot_precision_for(dtype: torch.dtype, config: KernelConfig) -> str:
    """``tl.dot`` input precision: the configured one for fp32, Triton's default otherwise."""
    return config.fp32_precision if dtype == torch.float32 else "tf32"

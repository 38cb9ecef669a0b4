"""Which CRAS components a model uses: the method and the paper's ablations.

The paper's ablation table (CRAS.md section 7) removes one component at a time;
the issue's baseline "variant A" removes both. Keeping all four lets an engineer
see which component helps on their fabric, on the same features and split.

| variant   | CRD (discriminator sees f - c) | DAFS (noise scaled by distance) |
|-----------|--------------------------------|---------------------------------|
| ``cras``    | yes                          | yes                             |
| ``no-dafs`` | yes                          | no: fixed-variance noise        |
| ``no-crd``  | no: raw features only        | yes                             |
| ``raw``     | no                           | no  (the paper's variant A)     |
"""

from __future__ import annotations

from typing import Literal, NamedTuple, get_args

Variant = Literal["cras", "no-dafs", "no-crd", "raw"]
VARIANTS: tuple[str, ...] = get_args(Variant)


class Components(NamedTuple):
    residual: bool  # CRD: the discriminator input is [f, f - c]
    distance_guided: bool  # DAFS: noise size depends on the distance to the center


_COMPONENTS = {
    "cras": Components(residual=True, distance_guided=True),
    "no-dafs": Components(residual=True, distance_guided=False),
    "no-crd": Components(residual=False, distance_guided=True),
    "raw": Components(residual=False, distance_guided=False),
}


def components(variant: str) -> Components:
    """The components of ``variant``; ValueError names the known ones."""
    try:
        return _COMPONENTS[variant]
    except KeyError:
        raise ValueError(
            f"unknown model variant {variant!r}; known: {', '.join(VARIANTS)}"
        ) from None

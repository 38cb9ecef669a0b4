"""Is the discriminator learning? (CRAS.md section 10: with the authors' absolute noise it
does not, on EfficientNet-Lite0 features, and nothing tells the user.)

At chance the loss (BCE on normal + BCE on synthetic) is 2 ln 2 = 1.386 and the
discriminator is right on half of each. A run passes the check when, after the
check epoch, the loss has fallen clearly below chance and both accuracies have
left 50 %.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from training.errors import TrainingDidNotLearnError

CHANCE_LOSS = 2 * math.log(2)
MAX_LOSS_FRACTION = 0.9
MIN_ACCURACY = 0.6


@dataclass(frozen=True)
class EpochStats:
    """Figures of one training epoch.

    Attributes:
        loss: Mean of BCE(normal, 0) + BCE(synthetic, 1) (chance: 2 ln 2).
        p_true: Fraction of normal features scored below 0.5.
        p_fake: Fraction of synthetic anomalies scored at or above 0.5.
    """

    epoch: int
    loss: float
    p_true: float
    p_fake: float
    seconds: float


def has_learned(stats: EpochStats) -> bool:
    return (
        stats.loss <= MAX_LOSS_FRACTION * CHANCE_LOSS
        and stats.p_true >= MIN_ACCURACY
        and stats.p_fake >= MIN_ACCURACY
    )


def check_learning(stats: EpochStats, *, noise_std: float) -> None:
    """Raise :class:`TrainingDidNotLearnError` if the run is still at chance."""
    if has_learned(stats):
        return
    raise TrainingDidNotLearnError(
        f"training did not learn: after epoch {stats.epoch} the loss is {stats.loss:.3f} "
        f"(chance {CHANCE_LOSS:.3f}) and the discriminator is right on "
        f"{stats.p_true:.0%} of normal and {stats.p_fake:.0%} of synthetic features "
        f"(needs loss <= {MAX_LOSS_FRACTION * CHANCE_LOSS:.3f} and both >= {MIN_ACCURACY:.0%}); "
        "no model was written",
        hint=f"the synthetic anomalies are too small or too large for these features: "
        f"try --noise-std {noise_std * 2:g} (now {noise_std:g}), or more --epochs",
    )

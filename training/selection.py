"""Which epoch's weights to keep: validation score averaged with the evaluation before.

The validation set is small (on AITEX, 114 defect-free tiles and as many
copies with planted defects), so one evaluation's score is noisy: the plain
maximum over a run picks whichever epoch was luckiest, and on AITEX it once
kept epoch 2 of 16, a model far from converged, by 0.0007 (docs/research/cras_vs_variant_a.md).
Each evaluation is therefore judged by the mean of its own validation score and
that of the evaluation just before it: an epoch is kept only after two good
evaluations in a row, not on one lucky score. The first evaluation has none
before it, so it is kept only when it is the only one. The window looks back
only: a centred one lets an early epoch borrow the score of a better-trained
later one, and in the 8-epoch demo it kept epoch 2 (loss 1.20, chance 1.39) that
way. Equal window scores are decided by the evaluation's own score. The kept
weights are exactly one epoch's (no averaging of weights).
"""

from __future__ import annotations

import math

import torch

Snapshot = dict[str, torch.Tensor]


class CheckpointChoice:
    """Tracks evaluations and keeps the snapshot with the best window score."""

    def __init__(self) -> None:
        self.epochs: list[int] = []
        self.scores: list[float] = []
        self.best: Snapshot | None = None
        self.best_epoch = 0
        self.best_score = -math.inf
        self.best_own_score = -math.inf

    def smoothed(self, index: int) -> float:
        """Mean validation score of evaluation ``index`` and the one before it."""
        window = self.scores[max(0, index - 1) : index + 1]
        return sum(window) / len(window)

    def add(self, epoch: int, score: float, snapshot: Snapshot) -> bool:
        """Record one evaluation; returns whether its snapshot is now the kept one."""
        self.epochs.append(epoch)
        self.scores.append(score)
        window, own = self.smoothed(len(self.scores) - 1), score
        # The first evaluation is only a stand-in until the second arrives; after that,
        # exact ties on both scores keep the earlier epoch.
        if len(self.scores) <= 2 or (window, own) > (self.best_score, self.best_own_score):
            self.best, self.best_epoch = snapshot, epoch
            self.best_score, self.best_own_score = window, own
            return True
        return False

    def state(self) -> dict:
        """JSON-able part of the state (the kept snapshot is saved as tensors)."""
        return {
            "epochs": self.epochs,
            "scores": self.scores,
            "best_epoch": self.best_epoch,
            "best_score": self.best_score,
            "best_own_score": self.best_own_score,
        }

    def load(self, state: dict, *, best: Snapshot | None) -> None:
        self.epochs, self.scores = list(state["epochs"]), list(state["scores"])
        self.best_epoch, self.best_score = state["best_epoch"], state["best_score"]
        self.best_own_score = state["best_own_score"]
        self.best = best


def chosen_epoch(history: list[dict]) -> int:
    """The epoch :class:`CheckpointChoice` keeps for a training report's history."""
    choice = CheckpointChoice()
    for record in history:
        if "val_score" in record:
            choice.add(record["epoch"], record["val_score"], {})
    return choice.best_epoch

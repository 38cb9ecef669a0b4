"""Which epoch's weights to keep: validation score averaged over neighbouring evaluations.

The validation set is small (on AITEX, 114 defect-free tiles and as many
copies with planted defects), so one evaluation's score is noisy: the plain
maximum over a run picks whichever epoch was luckiest, and on AITEX it once
kept epoch 2 of 16, a model far from converged, by 0.0007 (docs/results.md).
Each evaluation is therefore judged by the mean of its own validation score and
those of the evaluations just before and after it; a lone lucky score no longer
wins, a stretch of good epochs does. Equal neighbourhood scores (with only two
evaluations both windows are the same pair) are decided by the evaluation's own
score. The kept weights are still exactly one epoch's (no averaging of weights).
"""

from __future__ import annotations

import math

import torch

Snapshot = dict[str, torch.Tensor]


class CheckpointChoice:
    """Tracks evaluations and keeps the snapshot with the best neighbourhood score.

    An evaluation's window closes when the next one arrives (or at :meth:`finish`),
    so only the latest snapshot is held besides the best.
    """

    def __init__(self) -> None:
        self.epochs: list[int] = []
        self.scores: list[float] = []
        self.best: Snapshot | None = None
        self.best_epoch = 0
        self.best_score = -math.inf
        self.best_own_score = -math.inf
        self.pending: Snapshot | None = None

    def smoothed(self, index: int) -> float:
        """Mean validation score of evaluation ``index`` and its neighbours."""
        window = self.scores[max(0, index - 1) : index + 2]
        return sum(window) / len(window)

    def add(self, epoch: int, score: float, snapshot: Snapshot) -> None:
        """Record one evaluation; closes the window of the one before it."""
        self.epochs.append(epoch)
        self.scores.append(score)
        if self.pending is not None:
            self._offer(len(self.scores) - 2, self.pending)
        self.pending = snapshot

    def finish(self) -> None:
        """Judge the last evaluation (its window has no later neighbour)."""
        if self.pending is not None:
            self._offer(len(self.scores) - 1, self.pending)
            self.pending = None

    def _offer(self, index: int, snapshot: Snapshot) -> None:
        score, own = self.smoothed(index), self.scores[index]
        # Exact ties on both keep the earlier epoch.
        if (score, own) > (self.best_score, self.best_own_score):
            self.best, self.best_epoch = snapshot, self.epochs[index]
            self.best_score, self.best_own_score = score, own

    def state(self) -> dict:
        """JSON-able part of the state (the snapshots are saved as tensors)."""
        return {
            "epochs": self.epochs,
            "scores": self.scores,
            "best_epoch": self.best_epoch,
            "best_score": self.best_score,
            "best_own_score": self.best_own_score,
        }

    def load(self, state: dict, *, best: Snapshot | None, pending: Snapshot | None) -> None:
        self.epochs, self.scores = list(state["epochs"]), list(state["scores"])
        self.best_epoch, self.best_score = state["best_epoch"], state["best_score"]
        self.best_own_score = state["best_own_score"]
        self.best, self.pending = best, pending

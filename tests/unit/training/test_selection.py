"""Checkpoint choice by the validation score of an evaluation and its neighbours."""

from __future__ import annotations

import pytest
import torch

from training.selection import CheckpointChoice


def _run(scores: list[float], *, every: int = 2) -> CheckpointChoice:
    choice = CheckpointChoice()
    for number, score in enumerate(scores, start=1):
        choice.add(number * every, score, {"epoch": torch.tensor(number * every)})
    choice.finish()
    return choice


def test_a_lone_lucky_evaluation_loses_to_a_good_stretch() -> None:
    # The plain maximum would keep epoch 2 (0.90); its neighbourhood is (0.90 + 0.50) / 2.
    choice = _run([0.90, 0.50, 0.60, 0.70, 0.72, 0.71])
    assert choice.best_epoch == 12
    assert choice.best_score == pytest.approx((0.72 + 0.71) / 2)
    assert int(choice.best["epoch"]) == 12  # the kept weights are that epoch's own


def test_windows_are_centred_and_shrink_at_the_ends() -> None:
    choice = _run([0.2, 0.8, 0.5, 0.1])
    assert [choice.smoothed(i) for i in range(4)] == pytest.approx(
        [0.5, 0.5, 0.466667, 0.3], abs=1e-6
    )
    assert choice.best_epoch == 4  # equal windows: the better own score (0.8) decides


def test_two_evaluations_keep_the_better_one() -> None:
    # Both windows are the same pair, so the own score decides, either way round.
    assert _run([0.6, 0.7]).best_epoch == 4
    assert _run([0.7, 0.6]).best_epoch == 2


def test_a_single_evaluation_is_kept() -> None:
    choice = _run([0.4])
    assert choice.best_epoch == 2 and choice.best_score == pytest.approx(0.4)


def test_state_round_trip_continues_identically() -> None:
    scores = [0.3, 0.6, 0.55, 0.7, 0.4, 0.65]
    whole = _run(scores)
    first = CheckpointChoice()
    for number, score in enumerate(scores[:3], start=1):
        first.add(number * 2, score, {"epoch": torch.tensor(number * 2)})
    resumed = CheckpointChoice()
    resumed.load(first.state(), best=first.best, pending=first.pending)
    for number, score in enumerate(scores[3:], start=4):
        resumed.add(number * 2, score, {"epoch": torch.tensor(number * 2)})
    resumed.finish()
    assert resumed.best_epoch == whole.best_epoch and resumed.best_score == whole.best_score
    assert int(resumed.best["epoch"]) == whole.best_epoch

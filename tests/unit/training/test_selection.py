"""Checkpoint choice by the validation score of an evaluation and the one before it."""

from __future__ import annotations

import pytest
import torch

from training.selection import CheckpointChoice, chosen_epoch


def _run(scores: list[float], *, every: int = 2) -> CheckpointChoice:
    choice = CheckpointChoice()
    for number, score in enumerate(scores, start=1):
        choice.add(number * every, score, {"epoch": torch.tensor(number * every)})
    return choice


def test_a_lone_lucky_evaluation_loses_to_a_good_stretch() -> None:
    # The plain maximum would keep epoch 6 (0.90); its window is (0.60 + 0.90) / 2 = 0.75.
    choice = _run([0.55, 0.60, 0.90, 0.62, 0.80, 0.79])
    assert choice.best_epoch == 12
    assert choice.best_score == pytest.approx((0.80 + 0.79) / 2)
    assert int(choice.best["epoch"]) == 12  # the kept weights are that epoch's own


def test_windows_look_back_only() -> None:
    choice = _run([0.2, 0.8, 0.5, 0.1])
    assert [choice.smoothed(i) for i in range(4)] == pytest.approx([0.2, 0.5, 0.65, 0.3])
    assert choice.best_epoch == 6


def test_the_first_evaluation_is_kept_only_alone() -> None:
    # Its window would be its own score alone (0.95): one score, nothing before it.
    # Epoch 4 is kept instead (window 0.875 beats epoch 6's 0.81).
    assert _run([0.95, 0.80, 0.82]).best_epoch == 4
    assert _run([0.95, 0.10]).best_epoch == 4


def test_an_early_epoch_cannot_borrow_a_later_score() -> None:
    # The 8-epoch AITEX demo's validation scores (2026-11-23): a centred window kept
    # epoch 2 on the strength of epoch 4; the backward window keeps epoch 4.
    assert _run([0.8005, 0.8240, 0.7550, 0.8050]).best_epoch == 4


def test_equal_windows_go_to_the_better_own_score() -> None:
    choice = CheckpointChoice()
    for epoch, score in ((2, 0.6), (4, 0.8), (6, 0.6)):
        choice.add(epoch, score, {})
    # Epochs 4 and 6 both have the window (0.6 + 0.8) / 2, and 4 scored 0.8 itself.
    assert choice.best_epoch == 4


def test_a_single_evaluation_is_kept() -> None:
    choice = _run([0.4])
    assert choice.best_epoch == 2 and choice.best_score == pytest.approx(0.4)


def test_state_round_trip_continues_identically() -> None:
    scores = [0.3, 0.6, 0.55, 0.7, 0.4, 0.65]
    whole = _run(scores)
    first = _run(scores[:3])
    resumed = CheckpointChoice()
    resumed.load(first.state(), best=first.best)
    for number, score in enumerate(scores[3:], start=4):
        resumed.add(number * 2, score, {"epoch": torch.tensor(number * 2)})
    assert resumed.best_epoch == whole.best_epoch and resumed.best_score == whole.best_score
    assert int(resumed.best["epoch"]) == whole.best_epoch


def test_chosen_epoch_from_a_report_history() -> None:
    history = [{"epoch": 1}, {"epoch": 2, "val_score": 0.5}, {"epoch": 3}]
    history += [{"epoch": 4, "val_score": 0.9}, {"epoch": 6, "val_score": 0.2}]
    assert chosen_epoch(history) == 4

"""``station train``'s options come from TrainConfig: the same fields, choices and defaults."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import get_args

import pytest

from station.cli import build_parser
from station.cli.train_command import config_overrides
from training.config import TrainConfig, load_train_config
from training.errors import ConfigError

# Options of `station train` that steer the command rather than set a TrainConfig field.
COMMAND_OPTIONS = {"help", "out", "resume", "config"}
# QA feedback options: the command reads the store and sets extra_normals / confirmed_defects.
COMMAND_OPTIONS |= {"normals_from_store", "validation_from_store", "fabric", "image_root"}
COMMAND_OPTIONS |= {"store_config", "min_confirmed_defects"}


def _train_parser() -> argparse.ArgumentParser:
    subparsers = next(
        action
        for action in build_parser()._actions
        if isinstance(action, argparse._SubParsersAction)
    )
    return subparsers.choices["train"]


def test_every_other_option_sets_a_field_of_the_config() -> None:
    dests = {action.dest for action in _train_parser()._actions}
    assert dests - COMMAND_OPTIONS <= set(TrainConfig.model_fields)


@pytest.mark.parametrize("field", ["layout", "backbone", "channels", "variant"])
def test_choices_are_the_fields_literal_values(field: str) -> None:
    (action,) = [a for a in _train_parser()._actions if a.dest == field]
    assert list(action.choices) == list(get_args(TrainConfig.model_fields[field].annotation))


@pytest.mark.parametrize(
    "field", ["layout", "epochs", "tile_px", "noise_std", "batch_size", "seed", "mm_per_px"]
)
def test_help_states_the_fields_default(field: str) -> None:
    (action,) = [a for a in _train_parser()._actions if a.dest == field]
    assert f"default {TrainConfig.model_fields[field].default}" in action.help


def test_options_left_out_keep_the_config_files_values(tmp_path: Path) -> None:
    config_file = tmp_path / "train.yaml"
    config_file.write_text("epochs: 50\nseed: 3\n")
    args = _train_parser().parse_args(
        ["--out", str(tmp_path / "m"), "--data", str(tmp_path), "--epochs", "4"]
    )
    config = load_train_config(config_file, config_overrides(args))
    assert (config.epochs, config.seed, config.data) == (4, 3, tmp_path)
    assert config.tile_px == TrainConfig.model_fields["tile_px"].default


def test_no_data_is_a_user_error(tmp_path: Path) -> None:
    args = _train_parser().parse_args(["--out", str(tmp_path / "m")])
    with pytest.raises(ConfigError, match="no training data"):
        load_train_config(None, config_overrides(args))

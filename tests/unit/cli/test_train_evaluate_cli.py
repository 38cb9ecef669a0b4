"""``station train`` and ``station evaluate`` on tiny generated fabric, and their user errors.

A user error ends with exit status 2 and one ``error:`` message with what to do,
never a traceback.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from station.cli import EXIT_USER_ERROR, main
from training.data.fabric import write_mvtec_dataset

METRICS = ("image_auroc", "image_ap", "pixel_auroc", "pixel_ap", "pro", "f1_max")
CLASSES = ("grey_twill", "dark_plain")


@pytest.fixture(scope="module")
def fabric(tmp_path_factory) -> Path:
    """Two generated fabrics in the MVTec layout, 64-px tiles (8 train, 2 val, 6 test each)."""
    return write_mvtec_dataset(
        tmp_path_factory.mktemp("cli") / "fabric",
        classes=list(CLASSES),
        tile_px=64,
        n_train=10,
        n_test_good=3,
        n_test_defect=3,
        seed=1,
    )


def _train_args(fabric: Path, out: Path, *extra: str) -> list[str]:
    return [
        "train",
        "--data",
        str(fabric),
        "--layout",
        "mvtec",
        "--out",
        str(out),
        "--tile-px",
        "64",
        "--batch-size",
        "4",
        "--positions-per-tile",
        "16",
        "--noise-std",
        "1.0",
        "--epochs",
        "3",
        *extra,
    ]


@pytest.fixture(scope="module")
def model_dir(fabric: Path, tmp_path_factory) -> Path:
    """A model trained through the CLI, with a YAML config whose epochs the option overrides."""
    folder = tmp_path_factory.mktemp("cli-model")
    config = folder / "train.yaml"
    config.write_text(yaml.safe_dump({"eval_every": 1, "epochs": 50, "seed": 3}))
    out = folder / "model"
    assert main(_train_args(fabric, out, "--config", str(config))) == 0
    return out


def test_train_writes_a_model_with_the_merged_settings(model_dir: Path) -> None:
    report = json.loads((model_dir / "training_report.json").read_text())
    assert report["status"] == "ok"
    assert report["config"]["epochs"] == 3  # the option beats the YAML file
    assert report["config"]["eval_every"] == 1 and report["config"]["seed"] == 3  # from YAML
    assert report["epochs_run"] == 3 and len(report["history"]) == 3
    assert (model_dir / "model.json").is_file() and (model_dir / "model.safetensors").is_file()


def _check_metrics(figures: dict) -> None:
    for key in METRICS:
        value = figures[key]
        assert value is None or 0.0 <= value <= 1.0, (key, value)


def test_evaluate_writes_json_maps_and_comparisons(model_dir, fabric, tmp_path, capsys) -> None:
    out_json, maps = tmp_path / "metrics.json", tmp_path / "maps"
    status = main(
        [
            "evaluate",
            "--model",
            str(model_dir),
            "--data",
            str(fabric),
            "--layout",
            "mvtec",
            "--json",
            str(out_json),
            "--maps",
            str(maps),
            "--compare",
            str(model_dir),
            "--nearest-neighbour",
            "--nn-bank-fraction",
            "0.5",
        ]
    )
    assert status == 0
    printed = capsys.readouterr().out
    assert "image_auroc" in printed and "per class" in printed
    result = json.loads(out_json.read_text())
    assert result["split"] == "test" and result["layout"] == "mvtec"
    _check_metrics(result["mean"])
    assert set(result["per_class"]) == set(CLASSES)
    for name, figures in result["per_class"].items():
        _check_metrics(figures)
        assert figures["tiles"] == 6 and figures["defective_tiles"] == 3, name
        assert figures["image_auroc"] is not None  # both labels present in every class
    for key in METRICS:  # the mean is over classes
        values = [c[key] for c in result["per_class"].values() if c[key] is not None]
        assert result["mean"][key] == pytest.approx(sum(values) / len(values))
    # The same model scored alongside gives the same numbers; the baseline has its own.
    assert result["comparisons"][model_dir.name]["mean"] == result["mean"]
    (baseline,) = [k for k in result["comparisons"] if k.startswith("nearest-neighbour")]
    _check_metrics(result["comparisons"][baseline]["mean"])
    assert result["comparisons"][baseline]["bank_vectors"] == int(0.5 * 16 * 64)
    assert len(list(maps.glob("*.png"))) == 12


def _user_error(argv: list[str], capsys) -> str:
    status = main(argv)
    captured = capsys.readouterr()
    assert status == EXIT_USER_ERROR
    assert "Traceback" not in captured.err + captured.out
    errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, captured.err
    assert "what to do:" in captured.err
    return captured.err


def test_missing_data_folder(tmp_path: Path, capsys) -> None:
    err = _user_error(_train_args(tmp_path / "nowhere", tmp_path / "out"), capsys)
    assert "nowhere is not a folder" in err
    err = _user_error(["train", "--out", str(tmp_path / "out")], capsys)
    assert "no training data" in err


def test_unknown_class(fabric: Path, tmp_path: Path, capsys) -> None:
    err = _user_error(_train_args(fabric, tmp_path / "out", "--classes", "velvet"), capsys)
    assert "velvet" in err and "grey_twill" in err and "dark_plain" in err


@pytest.mark.parametrize(
    ("option", "value", "field"),
    [
        ("--epochs", "0", "epochs"),
        ("--tile-px", "100", "tile_px"),
        ("--noise-std", "-1", "noise_std"),
    ],
)
def test_invalid_field_value_names_the_field(fabric, tmp_path, capsys, option, value, field):
    err = _user_error(_train_args(fabric, tmp_path / "out", option, value), capsys)
    assert f"`{field}`" in err


def test_invalid_yaml_field_names_the_field(fabric, tmp_path, capsys) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("batch_sise: 8\n")
    err = _user_error(_train_args(fabric, tmp_path / "out", "--config", str(config)), capsys)
    assert "`batch_sise`" in err and "unknown field" in err
    err = _user_error(
        _train_args(fabric, tmp_path / "out", "--config", str(tmp_path / "x.yaml")), capsys
    )
    assert "does not exist" in err


def test_wide_resnet_needs_a_weights_file(fabric: Path, tmp_path: Path, capsys) -> None:
    args = _train_args(fabric, tmp_path / "out", "--backbone", "wide_resnet50_2")
    err = _user_error(args, capsys)
    assert "weights file" in err and "--backbone-weights" in err
    err = _user_error([*args, "--backbone-weights", str(tmp_path / "wrn.pth")], capsys)
    assert "wrn.pth does not exist" in err


def test_evaluate_refuses_a_folder_that_is_not_a_model(fabric, tmp_path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    err = _user_error(
        [
            "evaluate",
            "--model",
            str(tmp_path / "empty"),
            "--data",
            str(fabric),
            "--layout",
            "mvtec",
        ],
        capsys,
    )
    assert "not a model folder" in err


def test_evaluate_unknown_class(model_dir, fabric, capsys) -> None:
    err = _user_error(
        [
            "evaluate",
            "--model",
            str(model_dir),
            "--data",
            str(fabric),
            "--layout",
            "mvtec",
            "--classes",
            "velvet",
        ],
        capsys,
    )
    assert "velvet" in err and "grey_twill" in err


def test_nan_metrics_become_null_in_json(model_dir, fabric, tmp_path, capsys) -> None:
    """On the val split every tile is normal: label-dependent metrics are null, not NaN."""
    out_json = tmp_path / "val.json"
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(model_dir),
                "--data",
                str(fabric),
                "--layout",
                "mvtec",
                "--split",
                "val",
                "--json",
                str(out_json),
            ]
        )
        == 0
    )
    text = out_json.read_text()
    assert "NaN" not in text
    result = json.loads(text)
    assert all(result["mean"][key] is None for key in METRICS)
    assert not any(isinstance(v, float) and math.isnan(v) for v in result["mean"].values())

"""The backbone sweep: nearest-neighbour metrics per backbone on real features, its table."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from experiments.backbone_sweep import format_results, main, measure_backbone
from training.data.fabric import write_mvtec_dataset

CLASSES = ("grey_twill", "dark_plain")


@pytest.fixture(scope="module")
def tiny_fabric(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated 64-px fabric in the MVTec layout: 2 classes, 6 train and 6 test tiles each."""
    return write_mvtec_dataset(
        tmp_path_factory.mktemp("sweep") / "fabric",
        classes=list(CLASSES),
        tile_px=64,
        n_train=6,
        n_test_good=3,
        n_test_defect=3,
        seed=0,
    )


@pytest.mark.parametrize("name", ["efficientnet_lite0", "efficientnet_lite2"])
def test_measures_each_class_on_the_backbone_features(tiny_fabric: Path, name: str) -> None:
    result = measure_backbone(
        name,
        tiny_fabric,
        layout="mvtec",
        classes=CLASSES,
        bank_fraction=0.5,
        tile_px=64,
        progress=False,
    )
    assert result["backbone"] == name
    assert set(result["per_class"]) == set(CLASSES)
    # Every training tile gives 8 x 8 patches; half of them are in the bank.
    assert result["train_tiles"] >= 8
    assert result["bank_vectors"] == result["train_tiles"] * 64 // 2
    assert result["test_tiles"] == 12
    for figures in [result["mean"], *result["per_class"].values()]:
        for key in ("image_auroc", "pixel_auroc", "pro"):
            assert 0.0 <= figures[key] <= 1.0
    # Planted generated defects are far from normal fabric on ImageNet features.
    assert result["mean"]["image_auroc"] > 0.7
    mean = sum(c["image_auroc"] for c in result["per_class"].values()) / 2
    assert math.isclose(result["mean"]["image_auroc"], mean, rel_tol=1e-6)


def test_table_has_a_row_per_class_and_mean_and_the_speed() -> None:
    figures = {"image_auroc": 0.8, "pixel_auroc": 0.9, "pro": float("nan")}
    results = [
        {
            "backbone": "efficientnet_lite1",
            "per_class": {"00": figures, "02": figures},
            "mean": figures,
            "speed": {"tiles_per_s": 12.34, "batch": 8, "threads": 2},
            "feature_seconds": 3.0,
            "search_seconds": 4.0,
        },
        {"backbone": "efficientnet_lite2", "speed": {"tiles_per_s": 9.0, "batch": 8, "threads": 2}},
    ]
    table = format_results(results)
    assert "| efficientnet_lite1 | 00 | 80.0 | 90.0 | - |" in table
    assert "| efficientnet_lite1 | **mean** | 80.0 | 90.0 | - |" in table
    assert "| efficientnet_lite1 | 12.3 (batch 8, 2 threads) | 3.0 | 4.0 |" in table
    assert "| efficientnet_lite2 | 9.0 (batch 8, 2 threads) | - | - |" in table


def test_speed_only_run_writes_json_and_table(tmp_path: Path, capsys) -> None:
    path = tmp_path / "sweep.json"
    arguments = ["--backbones", "efficientnet_lite0,efficientnet_lite1", "--skip-quality"]
    assert main([*arguments, "--tile-px", "64", "--repeats", "1", "--json", str(path)]) == 0
    document = json.loads(path.read_text())
    assert [r["backbone"] for r in document["results"]] == [
        "efficientnet_lite0",
        "efficientnet_lite1",
    ]
    for result in document["results"]:
        speed = result["speed"]
        assert speed["batch"] == 8 and speed["threads"] == 2 and speed["tile_px"] == 64
        assert speed["tiles_per_s"] > 0
    capsys.readouterr()
    assert main(["--table-only", "--json", str(path)]) == 0
    assert "| efficientnet_lite1 |" in capsys.readouterr().out

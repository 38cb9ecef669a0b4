"""The trainer on tiny generated fabric: it learns, reports, is seeded, resumes, and refuses
to write a model that learned nothing (CRAS.md section 10)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import training.trainer as trainer_module
from training.cras.model import CrasModel, ModelSpec
from training.data.datasets import load_tiles
from training.errors import ConfigError, ModelFileError, TrainingDidNotLearnError
from training.features import extract_features
from training.learning import CHANCE_LOSS, MAX_LOSS_FRACTION, MIN_ACCURACY
from training.model_file import TENSORS_FILE, load_model
from training.trainer import REPORT_FILE, TrainResult, fit_statistics, train
from training.validation import validation_figures, with_planted_defects

from .helpers import MVTEC_CLASSES, tiny_train_config


def _tensors(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / TENSORS_FILE))


def _assert_same_tensors(first: Path, second: Path) -> None:
    a, b = _tensors(first), _tensors(second)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def _without_seconds(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


@pytest.fixture(scope="module")
def trained(mvtec_root: Path, tmp_path_factory) -> TrainResult:
    """One uninterrupted 3-epoch run, shared by the tests below."""
    return train(
        tiny_train_config(mvtec_root), tmp_path_factory.mktemp("run") / "model", progress=False
    )


def test_tiny_training_learns(trained: TrainResult) -> None:
    last = trained.report["history"][-1]
    assert last["loss"] <= MAX_LOSS_FRACTION * CHANCE_LOSS
    assert last["p_true"] >= MIN_ACCURACY and last["p_fake"] >= MIN_ACCURACY
    losses = [h["loss"] for h in trained.report["history"]]
    assert losses[-1] < losses[0]


def test_report_fields_and_files(trained: TrainResult) -> None:
    report, folder = trained.report, trained.model_dir
    assert report["status"] == "ok" and report["classes"] == sorted(MVTEC_CLASSES)
    assert report["train_tiles"] == 16 and report["epochs_run"] == 3
    assert report["val_tiles"]["normal"] == 4 and 1 <= report["val_tiles"]["synthetic_defects"] <= 4
    history = report["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3]
    for record in history:  # eval_every 1: every epoch is validated
        assert {
            "loss",
            "p_true",
            "p_fake",
            "seconds",
            "val_image_auroc",
            "val_pixel_auroc",
            "val_score",
        } <= set(record)
        assert record["val_score"] == pytest.approx(
            (record["val_image_auroc"] + record["val_pixel_auroc"]) / 2
        )
    scores = [h["val_score"] for h in history]
    # Each evaluation is judged with the one before it, then by its own score; the first
    # best wins exact ties.
    windows = [scores[max(0, i - 1) : i + 1] for i in range(len(scores))]
    window_scores = [sum(w) / len(w) for w in windows]
    # The first evaluation only counts when it is the only one.
    candidates = range(1, len(scores)) if len(scores) > 1 else range(1)
    best = max(candidates, key=lambda i: (window_scores[i], scores[i]))
    assert report["chosen_epoch"] == 1 + best
    assert report["chosen_window_val_score"] == pytest.approx(window_scores[best])
    chosen = history[report["chosen_epoch"] - 1]
    assert report["val_at_chosen_epoch"] == {k: v for k, v in chosen.items() if k.startswith("val")}
    assert {
        "read_data_s",
        "features_s",
        "training_s",
        "calibration_s",
        "total_s",
        "elapsed_s",
    } <= set(report["timings"])
    assert all(v >= 0 for v in report["timings"].values())
    calibration = report["calibration"]
    assert calibration["validation_tiles"] == 4 and calibration["mm_per_px"] == 0.2
    # 4 validation images of 64 lines at 0.2 mm: 0.0512 m of fabric.
    assert calibration["validation_metres"] == pytest.approx(4 * 64 * 0.2 / 1000)
    assert calibration["achieved_false_alarms_per_m"] <= calibration["target_false_alarms_per_m"]
    assert json.loads((folder / REPORT_FILE).read_text()) == json.loads(json.dumps(report))
    assert (folder / "checkpoint" / "state.safetensors").is_file()
    assert list((folder / "cache").glob("features-*.safetensors"))


def test_saved_model_is_the_chosen_checkpoint(trained: TrainResult, mvtec_root: Path) -> None:
    """Reload the model, rebuild the validation tiles, and get the chosen epoch's figures."""
    model, metadata = load_model(trained.model_dir)
    reported = dict(trained.report["calibration"])
    # The report adds what the validation fabric supports (see training/calibration.py).
    assert reported.pop("supported_false_alarms_per_m") == pytest.approx(
        metadata.calibration.supported_false_alarms_per_m
    )
    assert reported.pop("false_alarms_upper95_per_m") == pytest.approx(
        metadata.calibration.false_alarms_upper95_per_m
    )
    assert metadata.calibration.model_dump() == reported
    assert metadata.training["chosen_epoch"] == trained.report["chosen_epoch"]
    assert model.spec.classes == tuple(sorted(MVTEC_CLASSES)) and model.spec.tile_px == 64
    config = tiny_train_config(mvtec_root)
    assert model.discriminator.temperature == config.score_temperature == 8.0
    val_normal = load_tiles(mvtec_root, layout="mvtec", split="val", tile_px=64, progress=False)
    val_tiles = with_planted_defects(val_normal, seed=config.seed + 1)
    figures = validation_figures(
        model, extract_features(model, val_tiles, progress=False), val_tiles
    )
    for key, value in trained.report["val_at_chosen_epoch"].items():
        assert figures[key] == pytest.approx(value, abs=1e-6), key
    # The two fabrics look nothing alike: every tile finds its own class's center.
    out = model(torch.from_numpy(val_normal.tiles))
    assert out.matched_class.tolist() == val_normal.class_index.tolist()


def test_same_seed_gives_identical_models(trained, mvtec_root: Path, tmp_path: Path) -> None:
    again = train(tiny_train_config(mvtec_root), tmp_path / "again", progress=False)
    _assert_same_tensors(trained.model_dir, again.model_dir)
    assert _without_seconds(again.report["history"]) == _without_seconds(trained.report["history"])
    other = train(tiny_train_config(mvtec_root, seed=1), tmp_path / "other", progress=False)
    assert not torch.equal(
        _tensors(trained.model_dir)["adaptor.linear.weight"],
        _tensors(other.model_dir)["adaptor.linear.weight"],
    )


def test_the_validation_hook_sees_each_validation_and_changes_nothing(
    trained, mvtec_root: Path, tmp_path: Path
) -> None:
    calls = []

    def score_in_eval_mode(epoch: int, model: CrasModel, figures: dict[str, float]) -> None:
        was_training = model.training
        model.eval()
        with torch.no_grad():
            model(torch.zeros(2, 64, 64, 1, dtype=torch.uint8))
        model.train(was_training)
        figures["val_score"] = -1.0  # a copy: the trainer's record must not change
        calls.append((epoch, figures))

    hooked = train(
        tiny_train_config(mvtec_root),
        tmp_path / "hooked",
        progress=False,
        on_validation=score_in_eval_mode,
    )
    assert [epoch for epoch, _ in calls] == [1, 2, 3]
    for (_, figures), record in zip(calls, hooked.report["history"], strict=True):
        assert figures["val_image_auroc"] == record["val_image_auroc"]
        assert record["val_score"] != -1.0
    _assert_same_tensors(trained.model_dir, hooked.model_dir)
    assert _without_seconds(hooked.report["history"]) == _without_seconds(trained.report["history"])


def test_resume_extends_a_run_to_the_uninterrupted_result(trained, mvtec_root, tmp_path) -> None:
    folder = tmp_path / "resumed"
    train(tiny_train_config(mvtec_root, epochs=2), folder, progress=False)
    resumed = train(tiny_train_config(mvtec_root, epochs=3), folder, resume=True, progress=False)
    _assert_same_tensors(trained.model_dir, folder)
    assert _without_seconds(resumed.report["history"]) == _without_seconds(
        trained.report["history"]
    )
    assert resumed.report["chosen_epoch"] == trained.report["chosen_epoch"]


def test_resume_after_an_interruption(trained, mvtec_root, tmp_path, monkeypatch) -> None:
    real_epoch = trainer_module.train_epoch

    def interrupted_at_epoch_3(run, raw, class_index, epoch, *, progress):
        if epoch == 3:
            raise KeyboardInterrupt
        return real_epoch(run, raw, class_index, epoch, progress=progress)

    folder = tmp_path / "interrupted"
    monkeypatch.setattr(trainer_module, "train_epoch", interrupted_at_epoch_3)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_train_config(mvtec_root), folder, progress=False)
    monkeypatch.undo()
    assert not (folder / TENSORS_FILE).exists()
    assert json.loads((folder / "checkpoint" / "state.json").read_text())["epoch"] == 2

    train(tiny_train_config(mvtec_root), folder, resume=True, progress=False)
    _assert_same_tensors(trained.model_dir, folder)


def test_resume_with_other_settings_is_refused(trained, mvtec_root, tmp_path) -> None:
    folder = tmp_path / "copy"
    shutil.copytree(trained.model_dir, folder)
    config = tiny_train_config(mvtec_root, noise_std=0.5, cache_dir=trained.model_dir / "cache")
    with pytest.raises(ConfigError, match="noise_std"):
        train(config, folder, resume=True, progress=False)
    with pytest.raises(ModelFileError, match="no checkpoint"):
        train(tiny_train_config(mvtec_root), tmp_path / "fresh", resume=True, progress=False)


def test_a_run_that_does_not_learn_writes_no_model(mvtec_root: Path, tmp_path: Path) -> None:
    folder = tmp_path / "flat"
    with pytest.raises(TrainingDidNotLearnError) as caught:
        train(tiny_train_config(mvtec_root, noise_std=1e-6), folder, progress=False)
    assert "did not learn" in caught.value.message and "--noise-std" in caught.value.hint
    assert not (folder / TENSORS_FILE).exists() and not (folder / "model.json").exists()
    report = json.loads((folder / REPORT_FILE).read_text())
    assert report["status"] == "did_not_learn" and report["calibration"] is None
    assert len(report["history"]) == 3
    assert report["history"][-1]["loss"] > MAX_LOSS_FRACTION * CHANCE_LOSS


def test_raw_variant_trains_a_discriminator_on_features_alone(mvtec_root, tmp_path) -> None:
    result = train(tiny_train_config(mvtec_root, variant="raw"), tmp_path / "raw", progress=False)
    model, _ = load_model(result.model_dir)
    assert model.spec.variant == "raw"
    assert model.discriminator.body[0].in_features == model.spec.dim


def test_fit_statistics_by_definition(lite0) -> None:
    """Feature statistics over all tiles and positions; center k = mean adapted map of class k."""
    torch.manual_seed(0)
    model = CrasModel(
        ModelSpec(backbone="efficientnet_lite0", classes=("a", "b", "c"), tile_px=64), lite0[0]
    )
    generator = torch.Generator().manual_seed(1)
    raw = (torch.randn(7, 64, 384, generator=generator) * 3 + 2).half()
    class_index = torch.tensor([2, 0, 1, 2, 0, 2, 1])
    fit_statistics(model, raw, class_index)
    flat = raw.double().reshape(-1, 384)
    torch.testing.assert_close(model.feature_mean.double(), flat.mean(0), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(
        model.feature_std.double(), flat.std(0, unbiased=False), rtol=1e-5, atol=1e-5
    )
    with torch.no_grad():
        adapted = model.adaptor(model.standardise(raw))
    for k in range(3):
        expected = adapted[class_index == k].mean(dim=0)
        torch.testing.assert_close(model.centers[k], expected, rtol=1e-4, atol=1e-4)
    assert not math.isclose(float(model.centers[0].std()), 0.0)

"""CRAS training: cached features, seeded and resumable, checkpoint chosen on validation.

One call, :func:`train`, goes from a data folder to a calibrated model folder:

1. read the train and val splits as fabric tiles;
2. compute backbone features once (cached on disk);
3. per-dimension statistics and contextual centers (adaptor at its initial weights);
4. epochs of adaptor + discriminator training on sampled positions, with
   DAFS anomalies and the CRD loss; a learning check stops a run at chance;
5. every few epochs, score the validation set with held-out synthetic
   defects; keep the epoch whose score, averaged with the evaluation before
   it, is best (``training/selection.py``; no test labels are ever used);
6. calibrate thresholds on validation normals; write the model and a JSON report.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from training.backbones import backbone_spec, build_feature_backbone
from training.calibration import (
    calibrate_thresholds,
    fabric_metres,
    merge_gap_px,
    stitch_tile_maps,
)
from training.checkpoint import load_checkpoint, save_checkpoint
from training.config import TrainConfig
from training.cras.center_matching import center_match_chunked
from training.cras.model import CrasModel, ModelSpec
from training.cras.synthesis import synthesize_anomalies
from training.cras.variants import components
from training.data.datasets import load_tiles
from training.data.items import TileSet
from training.devices import model_device, resolve_device
from training.errors import ConfigError, DataError
from training.evaluate import image_heights
from training.features import cached_features
from training.learning import EpochStats, check_learning, has_learned
from training.model_file import Calibration, ModelMetadata, save_model
from training.qa_feedback import QaFeedback, add_normals
from training.selection import CheckpointChoice
from training.validation import score_cached, validation_figures, with_planted_defects

log = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoint"
REPORT_FILE = "training_report.json"
# Settings a resumed run may change: they do not alter what has been trained so far.
RESUMABLE_CHANGES = ("epochs", "threads", "device", "cache_dir")

ValidationHook = Callable[[int, CrasModel, dict[str, float]], None]
"""Called after each validation as ``hook(epoch, model, figures)``.

``figures`` is a copy of the validation figures the checkpoint choice sees. The
model is the one in training: a hook may score it (in eval mode, restoring the
mode after) but must not change it.
"""


@dataclass
class TrainResult:
    """What :func:`train` produced."""

    model_dir: Path
    report_path: Path
    metadata: ModelMetadata
    report: dict

    def summary(self) -> str:
        """What ``station train`` prints at the end: chosen epoch, validation, threshold, time."""
        report = self.report
        calibration = report["calibration"]
        val = report["val_at_chosen_epoch"]
        nan = float("nan")
        text = (
            f"\nModel written to {self.model_dir} (chosen epoch {report['chosen_epoch']} of "
            f"{report['epochs_run']})\n"
            "Validation with held-out synthetic defects: "
            f"tile I-AUROC {val.get('val_image_auroc', nan):.3f}, "
            f"P-AUROC {val.get('val_pixel_auroc', nan):.3f}\n"
            f"Threshold {calibration['pixel_threshold']:.4f} for at most "
            f"{calibration['target_false_alarms_per_m']} false alarms/m: "
            f"{calibration['achieved_false_alarms_per_m']:.2f}/m on "
            f"{calibration['validation_metres']:.2f} m of validation fabric\n"
            f"Time: {report['timings']['total_s']:.0f} s; report: {self.report_path}"
        )
        if "val_store_image_auroc" in val:
            text += f"\nQA-confirmed defects: tile I-AUROC {val['val_store_image_auroc']:.3f}"
        supported = calibration.get("supported_false_alarms_per_m")
        if supported is not None and supported > calibration["target_false_alarms_per_m"]:
            text += (
                f"\nNote: {calibration['validation_metres']:.2f} m of validation fabric cannot "
                f"confirm {calibration['target_false_alarms_per_m']}/m; up to {supported:.1f}/m "
                "is still plausible (95 % bound). Give more defect-free validation fabric for a "
                "tighter budget."
            )
        return text


def build_model(config: TrainConfig, classes: list[str]) -> tuple[CrasModel, str]:
    """A fresh model for these classes; returns it and the backbone weights' SHA-256."""
    spec = backbone_spec(config.backbone)
    dim = config.dim or spec.default_dim
    model_spec = ModelSpec(
        backbone=config.backbone,
        classes=tuple(classes),
        tile_px=config.tile_px,
        in_channels=config.channels,
        input_scale=config.input_scale,
        pre_dim=config.pre_dim or dim,
        dim=dim,
        variant=config.variant,
        score_temperature=config.score_temperature,
    )
    backbone, digest = build_feature_backbone(config.backbone, weights_path=config.backbone_weights)
    return CrasModel(model_spec, backbone), digest


def planted_validation_set(config: TrainConfig, val_normal: TileSet) -> TileSet:
    """The validation normals plus the synthetic defects the checkpoint is chosen on."""
    return with_planted_defects(
        val_normal, seed=config.seed + 1, defects_per_tile=config.val_defects_per_tile
    )


@torch.no_grad()
def fit_statistics(model: CrasModel, raw: torch.Tensor, class_index: torch.Tensor) -> None:
    """Feature statistics and contextual centers from the training features.

    Centers use the adaptor at its initial weights (CRAS.md section 2); the
    adaptor is linear, so the mean of adapted features is the adapted mean.
    """
    dim = raw.shape[-1]
    total = torch.zeros(dim, dtype=torch.float64)
    total_sq = torch.zeros(dim, dtype=torch.float64)
    class_sums = torch.zeros(len(model.spec.classes), raw.shape[1], dim, dtype=torch.float64)
    for start in range(0, len(raw), 64):
        block = raw[start : start + 64].double()
        total += block.sum(dim=(0, 1))
        total_sq += (block * block).sum(dim=(0, 1))
        class_sums.index_add_(0, class_index[start : start + 64], block)
    count = raw.shape[0] * raw.shape[1]
    mean = total / count
    std = (total_sq / count - mean * mean).clamp_min(1e-12).sqrt()
    model.feature_mean.copy_(mean.float())
    model.feature_std.copy_(std.float().clamp_min(1e-3 * float(std.median())))
    per_class = torch.bincount(class_index, minlength=len(model.spec.classes)).double()
    class_means = (class_sums / per_class[:, None, None]).float().to(model_device(model))
    model.centers.copy_(model.adaptor(model.standardise(class_means)))


class TrainingRun:
    """State of one training run (kept together so resume restores all of it).

    :func:`train` drives one; benchmarks drive one by hand with :func:`train_epoch`.

    Attributes:
        config: The run's settings.
        model: The model being trained (adaptor and discriminator).
        generator: The run's seeded random stream (batch order, positions, noise).
        history: One record per finished epoch (loss, accuracies, validation figures).
        choice: The checkpoint choice so far (``training/selection.py``).
        start_epoch: The first epoch still to train (after a resume, the one after the last).
    """

    def __init__(self, config: TrainConfig, model: CrasModel) -> None:
        self.config = config
        self.model = model
        self.generator = torch.Generator().manual_seed(config.seed)
        self.adaptor_optimizer = torch.optim.AdamW(model.adaptor.parameters(), lr=config.adaptor_lr)
        self.discriminator_optimizer = torch.optim.Adam(
            model.discriminator.parameters(),
            lr=config.discriminator_lr,
            weight_decay=config.discriminator_weight_decay,
        )
        self.history: list[dict] = []
        self.choice = CheckpointChoice()
        self.start_epoch = 1

    def modules(self) -> dict[str, torch.nn.Module]:
        """The trained modules by name (what a checkpoint holds)."""
        return {"adaptor": self.model.adaptor, "discriminator": self.model.discriminator}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The optimizers by name (their state goes into a checkpoint too)."""
        return {"adaptor": self.adaptor_optimizer, "discriminator": self.discriminator_optimizer}

    def snapshot(self) -> dict[str, torch.Tensor]:
        """A copy of the trained modules' weights, keyed ``module.parameter``."""
        return {
            f"{name}.{key}": value.detach().clone()
            for name, module in self.modules().items()
            for key, value in module.state_dict().items()
        }

    def restore(self, snapshot: dict[str, torch.Tensor]) -> None:
        """Load weights taken with :meth:`snapshot` back into the modules."""
        for name, module in self.modules().items():
            prefix = f"{name}."
            module.load_state_dict(
                {k[len(prefix) :]: v for k, v in snapshot.items() if k.startswith(prefix)}
            )

    def save(self, folder: Path, epoch: int) -> None:
        """Write a checkpoint of everything a resume needs after ``epoch``."""
        save_checkpoint(
            folder,
            modules=self.modules(),
            optimizers=self.optimizers(),
            best=self.choice.best,
            generator=self.generator,
            info={
                "epoch": epoch,
                "history": self.history,
                "choice": self.choice.state(),
                "config": self.config.model_dump(mode="json"),
            },
        )

    def resume(self, folder: Path) -> None:
        """Continue from the checkpoint in ``folder``.

        Raises:
            ConfigError: the checkpoint was made with other settings, or by an older version.
        """
        info, best = load_checkpoint(
            folder, modules=self.modules(), optimizers=self.optimizers(), generator=self.generator
        )
        saved = dict(info["config"])
        current = self.config.model_dump(mode="json")
        differing = [
            k for k in current if k not in RESUMABLE_CHANGES and saved.get(k) != current[k]
        ]
        if differing:
            raise ConfigError(
                "cannot resume: the checkpoint was made with different settings "
                f"({', '.join(differing)})",
                hint="resume with the same options, or train into a new --out folder",
            )
        if "choice" not in info:
            raise ConfigError(
                f"the checkpoint in {folder} was written by an older version "
                "(it chose epochs differently)",
                hint="train into a new --out folder without --resume",
            )
        self.history = info["history"]
        self.choice.load(info["choice"], best=best)
        self.start_epoch = info["epoch"] + 1


def train_epoch(
    run: TrainingRun, raw: torch.Tensor, class_index: torch.Tensor, epoch: int, *, progress: bool
) -> EpochStats:
    """One epoch of adaptor and discriminator training on cached backbone features.

    Args:
        run: The run; its generator and optimizers advance.
        raw: Raw backbone features ``[tiles, positions, dim]`` on the model's device.
        class_index: Class of each tile ``[tiles]``.
        epoch: Number shown in the progress bar and returned in the statistics.
        progress: Show a progress bar.

    Returns:
        Mean loss and accuracies of the epoch and its duration.
    """
    config, model = run.config, run.model
    device = model_device(model)
    distance_guided = components(config.variant).distance_guided
    model.adaptor.train()
    model.discriminator.train()
    started = time.perf_counter()
    tiles, positions, dim = raw.shape
    sample = min(config.positions_per_tile, positions)
    order = torch.randperm(tiles, generator=run.generator)
    loss_sum = true_right = fake_right = seen = 0.0
    bar = tqdm(
        total=tiles,
        desc=f"epoch {epoch}/{config.epochs}",
        unit="tile",
        disable=not progress,
        leave=False,
    )
    for start in range(0, tiles, config.batch_size):
        batch = order[start : start + config.batch_size]
        if len(batch) < 2:  # BatchNorm needs more than one sample per feature
            continue
        chosen = torch.rand(len(batch), positions, generator=run.generator).argsort(dim=1)[
            :, :sample
        ]
        # Indices are drawn on the CPU (device-independent seeds), then moved.
        batch, chosen = batch.to(device), chosen.to(device)
        raw_batch = torch.gather(raw[batch], 1, chosen[..., None].expand(-1, -1, dim))
        adapted = model.adaptor(model.standardise(raw_batch))
        with torch.no_grad():
            recomposed, _ = center_match_chunked(
                adapted.detach(), model.centers[class_index[batch]]
            )
        normal = adapted.reshape(-1, dim)
        centers = recomposed.reshape(-1, dim)
        noisy, _ = synthesize_anomalies(
            normal.detach(),
            centers,
            noise_std=config.noise_std,
            adjust=config.noise_adjust,
            distance_guided=distance_guided,
            generator=run.generator,
        )
        anomalous = normal + (
            noisy - normal.detach()
        )  # f- = f + lambda*eps, noise without gradient
        logits = model.discriminator.logits(
            torch.cat([normal, anomalous]), torch.cat([centers, centers])
        )
        count = len(normal)
        loss = F.binary_cross_entropy_with_logits(
            logits[:count], torch.zeros(count, device=device)
        ) + F.binary_cross_entropy_with_logits(logits[count:], torch.ones(count, device=device))
        run.adaptor_optimizer.zero_grad(set_to_none=True)
        run.discriminator_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        run.adaptor_optimizer.step()
        run.discriminator_optimizer.step()
        with torch.no_grad():
            true_right += float((logits[:count] < 0).sum())
            fake_right += float((logits[count:] >= 0).sum())
        loss_sum += float(loss.detach()) * count
        seen += count
        bar.update(len(batch))
        bar.set_postfix(
            loss=f"{loss_sum / seen:.3f}",
            p_true=f"{true_right / seen:.2f}",
            p_fake=f"{fake_right / seen:.2f}",
        )
    bar.close()
    return EpochStats(
        epoch=epoch,
        loss=loss_sum / seen,
        p_true=true_right / seen,
        p_fake=fake_right / seen,
        seconds=time.perf_counter() - started,
    )


def train(
    config: TrainConfig,
    out_dir: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    on_validation: ValidationHook | None = None,
) -> TrainResult:
    """Train, validate, calibrate and save one multi-class model.

    Args:
        config: All settings (see :class:`TrainConfig`).
        out_dir: Model folder to write (``model.json``, ``model.safetensors``,
            ``training_report.json``, ``checkpoint/``, ``cache/``).
        resume: Continue from ``out_dir/checkpoint``.
        progress: Show progress bars.
        on_validation: Called after each validation (see :data:`ValidationHook`); research
            tools record their own figures of the model here. Training does not depend on it.

    Raises:
        TrainingDidNotLearnError: the run stayed at chance (no model is written).
        DataError, ConfigError, WeightsNotFoundError: bad input.
    """
    device = resolve_device(config.device)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    timings: dict[str, float] = {}
    started = time.perf_counter()

    load_args = dict(
        layout=config.layout,
        classes=config.classes,
        tile_px=config.tile_px,
        overlap_px=config.overlap_px,
        channels=config.channels,
        progress=progress,
    )
    train_tiles = load_tiles(config.data, split="train", **load_args)
    val_normal = load_tiles(config.data, split="val", **load_args)
    val_tiles = planted_validation_set(config, val_normal)
    feedback = QaFeedback.read(
        extra_normals=config.extra_normals,
        confirmed_defects=config.confirmed_defects,
        classes=train_tiles.classes,
        tile_px=config.tile_px,
        channels=config.channels,
    )
    if feedback.normals is not None:
        train_tiles = add_normals(train_tiles, feedback.normals.tiles)
    if len(train_tiles) < 2:
        raise DataError(
            f"the train split has {len(train_tiles)} fabric tile(s); training needs at least 2",
            hint="add more good images (or larger ones, or use a smaller --tile-px)",
        )
    classes = list(train_tiles.classes)
    model, weights_sha = build_model(config, classes)
    model.to(device)
    timings["read_data_s"] = time.perf_counter() - started

    cache_dir = config.cache_dir or out_dir / "cache"
    mark = time.perf_counter()
    raw_train = cached_features(
        model,
        train_tiles,
        weights_sha256=weights_sha,
        cache_dir=cache_dir,
        desc="train features",
        progress=progress,
    )
    raw_val = cached_features(
        model,
        val_tiles,
        weights_sha256=weights_sha,
        cache_dir=cache_dir,
        desc="val features",
        progress=progress,
    )
    raw_confirmed = feedback.confirmed_features(
        model, weights_sha256=weights_sha, cache_dir=cache_dir, progress=progress
    )
    timings["features_s"] = time.perf_counter() - mark
    class_index = torch.from_numpy(train_tiles.class_index)
    fit_statistics(model, raw_train, class_index)
    # The training features go to the GPU once (0.8 MB per tile); on the CPU this is a no-op.
    raw_train, class_index = raw_train.to(device), class_index.to(device)

    run = TrainingRun(config, model)
    checkpoint_dir = out_dir / CHECKPOINT_DIR
    if resume:
        run.resume(checkpoint_dir)
        log.info("resuming at epoch %d of %d", run.start_epoch, config.epochs)
    mark = time.perf_counter()
    for epoch in range(run.start_epoch, config.epochs + 1):
        stats = train_epoch(run, raw_train, class_index, epoch, progress=progress)
        record = asdict(stats)
        if epoch % config.eval_every == 0 or epoch == config.epochs:
            figures = validation_figures(
                model, raw_val, val_tiles, confirmed_features=raw_confirmed
            )
            if on_validation is not None:
                on_validation(epoch, model, dict(figures))
            record.update(figures)
            run.choice.add(epoch, figures["val_score"], run.snapshot())
        run.history.append(record)
        log.info(
            "epoch %d/%d  loss %.3f  p_true %.2f  p_fake %.2f  %.1fs%s",
            epoch,
            config.epochs,
            stats.loss,
            stats.p_true,
            stats.p_fake,
            stats.seconds,
            f"  val I-AUROC {record['val_image_auroc']:.3f} P-AUROC {record['val_pixel_auroc']:.3f}"
            if "val_score" in record
            else "",
        )
        if epoch == min(config.learn_check_epochs, config.epochs):
            if not has_learned(stats):
                _write_report(
                    out_dir,
                    config,
                    run,
                    timings,
                    classes,
                    failed=True,
                    calibration=None,
                    started=started,
                    train_tiles=train_tiles,
                    val_tiles=val_tiles,
                )
            check_learning(stats, noise_std=config.noise_std)
        run.save(checkpoint_dir, epoch)
    timings["training_s"] = time.perf_counter() - mark

    if run.choice.best is not None:
        run.restore(run.choice.best)
    mark = time.perf_counter()
    calibration = _calibrate(model, raw_val[: len(val_normal)], val_normal, config)
    feedback_report = feedback.final_report(model, raw_confirmed, calibration)
    model.cpu()
    timings["calibration_s"] = time.perf_counter() - mark
    timings["total_s"] = time.perf_counter() - started
    report = _write_report(
        out_dir,
        config,
        run,
        timings,
        classes,
        failed=False,
        calibration=calibration,
        started=started,
        train_tiles=train_tiles,
        val_tiles=val_tiles,
        qa_feedback=feedback_report,
    )
    metadata = save_model(
        model,
        out_dir,
        backbone_weights_sha256=weights_sha,
        backbone_weights_path=str(config.backbone_weights) if config.backbone_weights else None,
        calibration=calibration,
        training={
            k: report[k]
            for k in ("chosen_epoch", "epochs_run", "val_at_chosen_epoch", "config", "qa_feedback")
            if k in report
        },
    )
    return TrainResult(
        model_dir=out_dir, report_path=out_dir / REPORT_FILE, metadata=metadata, report=report
    )


def _calibrate(
    model: CrasModel, raw_val_normal: torch.Tensor, val_normal: TileSet, config: TrainConfig
) -> Calibration:
    scores, maps, _ = score_cached(model, raw_val_normal)
    metres = fabric_metres(image_heights(val_normal), mm_per_px=config.mm_per_px)
    image_maps, image_valid = stitch_tile_maps(
        maps, val_normal.image_index, val_normal.boxes, val_normal.fabric
    )
    result = calibrate_thresholds(
        image_maps,
        scores,
        metres=metres,
        target_per_m=config.target_false_alarms_per_m,
        valid=image_valid,
        merge_gap_px=merge_gap_px(config.alarm_merge_gap_mm, config.mm_per_px),
    )
    return Calibration(
        pixel_threshold=result.pixel_threshold,
        tile_threshold=result.tile_threshold,
        target_false_alarms_per_m=config.target_false_alarms_per_m,
        achieved_false_alarms_per_m=result.achieved_false_alarms_per_m,
        tile_false_alarms_per_m=result.tile_false_alarms_per_m,
        mm_per_px=config.mm_per_px,
        validation_metres=result.validation_metres,
        validation_tiles=len(val_normal),
        merge_gap_mm=config.alarm_merge_gap_mm,
    )


def _write_report(
    out_dir,
    config,
    run,
    timings,
    classes,
    *,
    failed,
    calibration,
    started,
    train_tiles,
    val_tiles,
    qa_feedback=None,
) -> dict:
    chosen = next((h for h in run.history if h["epoch"] == run.choice.best_epoch), None)
    report = {
        "status": "did_not_learn" if failed else "ok",
        "config": config.model_dump(mode="json"),
        "classes": classes,
        "train_tiles": len(train_tiles),
        "val_tiles": {
            "normal": int((val_tiles.labels == 0).sum()),
            "synthetic_defects": int(val_tiles.labels.sum()),
        },
        "epochs_run": len(run.history),
        "chosen_epoch": run.choice.best_epoch,
        # The choice's criterion: the validation score averaged with the evaluation
        # just before the chosen one (training/selection.py).
        "chosen_window_val_score": (
            run.choice.best_score if math.isfinite(run.choice.best_score) else None
        ),
        "val_at_chosen_epoch": {k: v for k, v in (chosen or {}).items() if k.startswith("val_")},
        "history": run.history,
        "timings": dict(timings, elapsed_s=time.perf_counter() - started),
        "calibration": (
            dict(
                calibration.model_dump(),
                false_alarms_upper95_per_m=calibration.false_alarms_upper95_per_m,
                supported_false_alarms_per_m=calibration.supported_false_alarms_per_m,
            )
            if calibration
            else None
        ),
    }
    if qa_feedback is not None:
        report["qa_feedback"] = qa_feedback
    (out_dir / REPORT_FILE).write_text(json.dumps(report, indent=2), encoding="utf-8")
    return report

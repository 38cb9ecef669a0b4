"""Training configuration: one typed model, defaults a user should get.

Defaults are chosen for a 2-core CPU without a GPU: the four AITEX fabrics
train in well under 15 minutes (measured; see docs/quality.md) and the
model learns (CRAS.md section 10). ``station train`` prints them before it
starts, so nothing is hidden, and takes its option choices and defaults from
the fields below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, model_validator

from training.cras.variants import Variant
from training.errors import ConfigError
from training.typed_config import StrictModel, validate_config


class TrainConfig(StrictModel):
    """Everything that determines a training run (stored in the training report).

    ``variant="raw"`` is the paper's ablation "A": the discriminator sees raw
    adapted features only (no CRD residual) and the noise has a fixed
    variance (no DAFS); ``"no-crd"`` and ``"no-dafs"`` remove one of the two
    (``training.cras.variants``).
    """

    data: Path
    layout: Literal["aitex", "mvtec", "folder"] = "aitex"
    classes: list[str] | None = None
    tile_px: int = Field(256, ge=32, le=1024, multiple_of=32)
    overlap_px: int = Field(0, ge=0)
    channels: Literal[1, 3] = 1
    input_scale: float = Field(1.0, gt=0.0, le=4.0)

    backbone: Literal[
        "efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", "wide_resnet50_2"
    ] = "efficientnet_lite0"
    backbone_weights: Path | None = None
    dim: int | None = Field(None, ge=16)
    pre_dim: int | None = Field(None, ge=16)

    variant: Variant = "cras"
    epochs: int = Field(16, ge=1)
    batch_size: int = Field(32, ge=2)
    positions_per_tile: int = Field(256, ge=16)
    adaptor_lr: float = Field(1e-4, gt=0)
    discriminator_lr: float = Field(2e-4, gt=0)
    discriminator_weight_decay: float = Field(1e-5, ge=0)
    noise_std: float = Field(0.25, gt=0, description="sigma, in per-dimension standard deviations")
    noise_adjust: float = Field(0.3, ge=0, description="k of DAFS")
    # The trained discriminator is confident: at T = 1 a quarter of the AITEX test tiles
    # score exactly 1.0 in fp32 (ties); the default model's largest test logit is 65.2
    # (docs/research/), 0.99971 at T = 8.
    score_temperature: float = Field(
        8.0, gt=0, description="patch score = sigmoid(logit / T); keeps scores below fp32's 1.0"
    )
    seed: int = 0

    eval_every: int = Field(2, ge=1)
    val_defects_per_tile: int = Field(1, ge=1)
    learn_check_epochs: int = Field(3, ge=1)

    mm_per_px: float = Field(0.2, gt=0)
    target_false_alarms_per_m: float = Field(0.1, ge=0)
    # Tile borders can split one long defect (a broken pick across the web) into
    # fragments a few millimetres apart; 8 mm keeps it one alarm, as a mill counts it.
    alarm_merge_gap_mm: float = Field(
        8.0, ge=0, description="defect fragments closer than this are one alarm (as in the station)"
    )

    # QA feedback (training/qa_feedback.py): manifests written by `station train
    # --normals-from-store` / `--validation-from-store` from reviewed defects.
    extra_normals: Path | None = Field(
        None, description="manifest.json of crops QA marked false alarm: extra good training fabric"
    )
    confirmed_defects: Path | None = Field(
        None, description="manifest.json of QA-confirmed defect crops: extra validation defects"
    )

    threads: int | None = Field(None, ge=1)
    device: str = Field("cpu", description="cpu, cuda or cuda:N (checked when training starts)")
    cache_dir: Path | None = None

    @model_validator(mode="after")
    def _overlap_below_tile(self) -> TrainConfig:
        if self.overlap_px >= self.tile_px:
            raise ValueError(f"overlap_px ({self.overlap_px}) must be below tile_px")
        return self

    def describe(self) -> str:
        """Human-readable settings, printed before training starts."""
        fields = self.model_dump(mode="json")
        width = max(len(k) for k in fields)
        return "\n".join(f"  {k:<{width}}  {v}" for k, v in fields.items())


def load_train_config(config_file: Path | None, overrides: dict[str, Any]) -> TrainConfig:
    """Settings from a YAML file (if any) with ``overrides`` on top, validated.

    Args:
        config_file: YAML file of TrainConfig fields, or None.
        overrides: Field values that beat the file's (``None`` values are ignored).

    Raises:
        ConfigError: the file is missing or not a mapping, no data folder is given,
            a field is invalid, or the data folder does not exist.
    """
    values: dict[str, Any] = {}
    if config_file is not None:
        if not config_file.is_file():
            raise ConfigError(f"--config {config_file} does not exist", hint="check the path")
        loaded = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{config_file} must hold a mapping of TrainConfig fields")
        values.update(loaded)
    values.update({name: value for name, value in overrides.items() if value is not None})
    if "data" not in values:
        raise ConfigError("no training data given", hint="pass --data DIR (or `data:` in --config)")
    config = validate_config(TrainConfig, values, source=str(config_file or "command line"))
    if not Path(config.data).is_dir():
        raise ConfigError(
            f"--data {config.data} is not a folder", hint="point --data at the data set"
        )
    return config

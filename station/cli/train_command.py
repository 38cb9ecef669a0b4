"""``station train``: from a folder of good fabric to a calibrated CRAS model."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import yaml

from training.config import TrainConfig
from training.cras.variants import VARIANTS
from training.errors import ConfigError
from training.typed_config import validate_config

log = logging.getLogger(__name__)

# Command-line options that map one-to-one onto TrainConfig fields.
FIELD_OPTIONS = {
    "data": "data",
    "layout": "layout",
    "classes": "classes",
    "backbone": "backbone",
    "backbone_weights": "backbone_weights",
    "epochs": "epochs",
    "tile_px": "tile_px",
    "overlap_px": "overlap_px",
    "channels": "channels",
    "input_scale": "input_scale",
    "noise_std": "noise_std",
    "score_temperature": "score_temperature",
    "variant": "variant",
    "batch_size": "batch_size",
    "positions_per_tile": "positions_per_tile",
    "seed": "seed",
    "threads": "threads",
    "device": "device",
    "mm_per_px": "mm_per_px",
    "target_false_alarms_per_m": "target_false_alarms_per_m",
    "cache_dir": "cache_dir",
}


def split_classes(text: str) -> list[str]:
    """``"00,02 03"`` -> ``["00", "02", "03"]``."""
    return [part for part in text.replace(",", " ").split() if part]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a multi-class CRAS model on good fabric",
        description=(
            "Train one CRAS model for several fabric classes, choose the checkpoint on the "
            "validation split (with held-out synthetic defects), calibrate its threshold to a "
            "false-alarm rate per metre, and write MODEL_DIR (model.json, model.safetensors, "
            "training_report.json). Runs on the CPU (or a CUDA GPU with --device cuda); backbone "
            "features are computed once and cached. Defaults are printed before training starts."
        ),
    )
    parser.add_argument("--data", type=Path, help="data folder (AITEX, MVTec/ITDD or plain folder)")
    parser.add_argument(
        "--layout", choices=["aitex", "mvtec", "folder"], help="data layout (default aitex)"
    )
    parser.add_argument(
        "--classes", type=split_classes, help="classes to train, e.g. '00,02,03,05' (default: all)"
    )
    parser.add_argument(
        "--backbone",
        choices=["efficientnet_lite0", "wide_resnet50_2"],
        help="feature backbone (default efficientnet_lite0)",
    )
    parser.add_argument(
        "--backbone-weights",
        type=Path,
        help="local ImageNet weights (required for wide_resnet50_2)",
    )
    parser.add_argument("--epochs", type=int, help="training epochs (default 16)")
    parser.add_argument("--out", type=Path, required=True, help="model folder to write")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run in --out (same options; --epochs may grow)",
    )
    parser.add_argument(
        "--config", type=Path, help="YAML file with TrainConfig fields (options override it)"
    )
    advanced = parser.add_argument_group("advanced")
    advanced.add_argument("--tile-px", type=int, help="tile side S in pixels (default 256)")
    advanced.add_argument(
        "--overlap-px", type=int, help="overlap of neighbouring tiles (default 0)"
    )
    advanced.add_argument(
        "--channels", type=int, choices=[1, 3], help="1 grey (default) or 3 colour"
    )
    advanced.add_argument(
        "--input-scale", type=float, help="resize tiles by this factor in the model (default 1)"
    )
    advanced.add_argument(
        "--noise-std", type=float, help="DAFS sigma in per-dimension standard deviations"
    )
    advanced.add_argument(
        "--score-temperature",
        type=float,
        help="patch score = sigmoid(logit / T) (default 8; 1 = the paper's plain sigmoid)",
    )
    advanced.add_argument(
        "--variant",
        choices=VARIANTS,
        help="'raw' = ablation A (no CRD, no DAFS); 'no-crd', 'no-dafs' remove one (default cras)",
    )
    advanced.add_argument("--batch-size", type=int, help="tiles per step (default 32)")
    advanced.add_argument(
        "--positions-per-tile", type=int, help="feature positions sampled per tile and step"
    )
    advanced.add_argument("--seed", type=int, help="random seed (default 0)")
    advanced.add_argument("--threads", type=int, help="CPU threads for PyTorch")
    advanced.add_argument(
        "--device", help="where to train: cpu (default), cuda or cuda:N (needs a CUDA PyTorch)"
    )
    advanced.add_argument(
        "--mm-per-px", type=float, help="fabric size of one pixel, for false alarms per metre"
    )
    advanced.add_argument(
        "--target-false-alarms-per-m",
        dest="target_false_alarms_per_m",
        type=float,
        help="false alarms per metre allowed on validation fabric (default 0.1)",
    )
    advanced.add_argument("--cache-dir", type=Path, help="feature cache folder (default OUT/cache)")
    parser.set_defaults(handler=run)


def build_config(args: argparse.Namespace) -> TrainConfig:
    """Merge the YAML file (if any) with the options given on the command line."""
    values: dict = {}
    if args.config is not None:
        if not args.config.is_file():
            raise ConfigError(f"--config {args.config} does not exist", hint="check the path")
        loaded = yaml.safe_load(args.config.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{args.config} must hold a mapping of TrainConfig fields")
        values.update(loaded)
    for option, field in FIELD_OPTIONS.items():
        value = getattr(args, option, None)
        if value is not None:
            values[field] = value
    if "data" not in values:
        raise ConfigError("no training data given", hint="pass --data DIR (or `data:` in --config)")
    return validate_config(TrainConfig, values, source=str(args.config or "command line"))


def run(args: argparse.Namespace) -> int:
    from training.trainer import train

    config = build_config(args)
    if not Path(config.data).is_dir():
        raise ConfigError(
            f"--data {config.data} is not a folder", hint="point --data at the data set"
        )
    print(
        f"Training a CRAS model into {args.out} with these settings:\n{config.describe()}",
        flush=True,
    )
    result = train(config, args.out, resume=args.resume)
    report = result.report
    calibration = report["calibration"]
    val = report["val_at_chosen_epoch"]
    nan = float("nan")
    print(
        f"\nModel written to {result.model_dir} (chosen epoch {report['chosen_epoch']} of "
        f"{report['epochs_run']})\n"
        "Validation with held-out synthetic defects: "
        f"tile I-AUROC {val.get('val_image_auroc', nan):.3f}, "
        f"P-AUROC {val.get('val_pixel_auroc', nan):.3f}\n"
        f"Threshold {calibration['pixel_threshold']:.4f} for at most "
        f"{calibration['target_false_alarms_per_m']} false alarms/m: "
        f"{calibration['achieved_false_alarms_per_m']:.2f}/m on "
        f"{calibration['validation_metres']:.2f} m of validation fabric\n"
        f"Time: {report['timings']['total_s']:.0f} s; report: {result.report_path}"
    )
    supported = calibration.get("supported_false_alarms_per_m")
    if supported is not None and supported > calibration["target_false_alarms_per_m"]:
        print(
            f"Note: {calibration['validation_metres']:.2f} m of validation fabric cannot confirm "
            f"{calibration['target_false_alarms_per_m']}/m; up to {supported:.1f}/m is still "
            "plausible (95 % bound). Give more defect-free validation fabric for a tighter budget."
        )
    return 0

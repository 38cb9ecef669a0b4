"""``station train``: from a folder of good fabric to a calibrated CRAS model.

The options that set a :class:`~training.config.TrainConfig` field take their
choices and defaults from that field, so the help cannot drift from the config.
An option left out keeps the value of ``--config`` or the field's default.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, get_args

from station.store.training_feedback import DEFAULT_MIN_CONFIRMED, prepare_training_feedback
from training.config import TrainConfig, load_train_config


def split_classes(text: str) -> list[str]:
    """``"00,02 03"`` -> ``["00", "02", "03"]``."""
    return [part for part in text.replace(",", " ").split() if part]


def field_choices(name: str) -> list[Any]:
    """The values a ``Literal`` field of TrainConfig allows."""
    return list(get_args(TrainConfig.model_fields[name].annotation))


def field_default(name: str) -> Any:
    """The default of a TrainConfig field."""
    return TrainConfig.model_fields[name].default


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` sub-command."""
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
    default = field_default
    parser.add_argument("--data", type=Path, help="data folder (AITEX, MVTec/ITDD or plain folder)")
    parser.add_argument(
        "--layout",
        choices=field_choices("layout"),
        help=f"data layout (default {default('layout')})",
    )
    parser.add_argument(
        "--classes", type=split_classes, help="classes to train, e.g. '00,02,03,05' (default: all)"
    )
    parser.add_argument(
        "--backbone",
        choices=field_choices("backbone"),
        help=f"feature backbone (default {default('backbone')})",
    )
    parser.add_argument(
        "--backbone-weights",
        type=Path,
        help="local ImageNet weights (required for wide_resnet50_2)",
    )
    parser.add_argument("--epochs", type=int, help=f"training epochs (default {default('epochs')})")
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
    advanced.add_argument(
        "--tile-px", type=int, help=f"tile side S in pixels (default {default('tile_px')})"
    )
    advanced.add_argument(
        "--overlap-px",
        type=int,
        help=f"overlap of neighbouring tiles (default {default('overlap_px')})",
    )
    advanced.add_argument(
        "--channels",
        type=int,
        choices=field_choices("channels"),
        help=f"1 grey or 3 colour (default {default('channels')})",
    )
    advanced.add_argument(
        "--input-scale",
        type=float,
        help=f"resize tiles by this factor in the model (default {default('input_scale')})",
    )
    advanced.add_argument(
        "--noise-std",
        type=float,
        help=f"DAFS sigma in per-dimension standard deviations (default {default('noise_std')})",
    )
    advanced.add_argument(
        "--score-temperature",
        type=float,
        help="patch score = sigmoid(logit / T) "
        f"(default {default('score_temperature')}; 1 = the paper's plain sigmoid)",
    )
    advanced.add_argument(
        "--variant",
        choices=field_choices("variant"),
        help="'raw' = ablation A (no CRD, no DAFS); 'no-crd', 'no-dafs' remove one "
        f"(default {default('variant')})",
    )
    advanced.add_argument(
        "--batch-size", type=int, help=f"tiles per step (default {default('batch_size')})"
    )
    advanced.add_argument(
        "--positions-per-tile",
        type=int,
        help="feature positions sampled per tile and step "
        f"(default {default('positions_per_tile')})",
    )
    advanced.add_argument("--seed", type=int, help=f"random seed (default {default('seed')})")
    advanced.add_argument("--threads", type=int, help="CPU threads for PyTorch")
    advanced.add_argument(
        "--device",
        help=f"where to train: cpu, cuda or cuda:N (needs a CUDA PyTorch; "
        f"default {default('device')})",
    )
    advanced.add_argument(
        "--mm-per-px",
        type=float,
        help="fabric size of one pixel, for false alarms per metre "
        f"(default {default('mm_per_px')})",
    )
    advanced.add_argument(
        "--target-false-alarms-per-m",
        type=float,
        help="false alarms per metre allowed on validation fabric "
        f"(default {default('target_false_alarms_per_m')})",
    )
    advanced.add_argument("--cache-dir", type=Path, help="feature cache folder (default OUT/cache)")
    feedback = parser.add_argument_group(
        "QA feedback", "learn from defects QA reviewed in station-review (docs/train.md)"
    )
    feedback.add_argument(
        "--normals-from-store",
        metavar="URL",
        help="database whose defects QA marked false alarm are trained on as good fabric",
    )
    feedback.add_argument(
        "--validation-from-store",
        metavar="URL",
        help="database whose QA-confirmed defects join the validation set (checkpoint choice)",
    )
    feedback.add_argument(
        "--fabric",
        type=split_classes,
        metavar="A[,B]",
        help="fabric articles (roll fabric types) whose reviewed defects are used; "
        "each must be a training class",
    )
    feedback.add_argument(
        "--image-root", type=Path, help="the store's image folder (default: from --store-config)"
    )
    feedback.add_argument(
        "--store-config", type=Path, help="station.yaml whose store section names the image folder"
    )
    feedback.add_argument(
        "--min-confirmed-defects",
        type=int,
        default=DEFAULT_MIN_CONFIRMED,
        help=f"fewest confirmed defects --validation-from-store accepts "
        f"(default {DEFAULT_MIN_CONFIRMED})",
    )
    parser.set_defaults(handler=run)


def config_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The parsed options that name a TrainConfig field (None where not given)."""
    return {name: value for name, value in vars(args).items() if name in TrainConfig.model_fields}


def run(args: argparse.Namespace) -> int:
    """Train with the merged settings and print the result; returns the exit status."""
    from training.trainer import train

    config = load_train_config(args.config, config_overrides(args))
    feedback = prepare_training_feedback(
        args.out,
        normals_url=args.normals_from_store,
        validation_url=args.validation_from_store,
        articles=args.fabric,
        image_root=args.image_root,
        store_config=args.store_config,
        min_confirmed=args.min_confirmed_defects,
        resume=args.resume,
    )
    if feedback.fields:
        config = load_train_config(args.config, config_overrides(args) | feedback.fields)
    for line in feedback.messages:
        print(line, flush=True)
    print(
        f"Training a CRAS model into {args.out} with these settings:\n{config.describe()}",
        flush=True,
    )
    result = train(config, args.out, resume=args.resume)
    print(result.summary())
    return 0

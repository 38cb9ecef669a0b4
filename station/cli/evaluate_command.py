"""``station evaluate``: detection metrics of one or more models on a labelled split."""

from __future__ import annotations

import argparse
from pathlib import Path

from station.cli.train_command import split_classes


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` sub-command."""
    parser = subparsers.add_parser(
        "evaluate",
        help="measure a model's detection quality on a labelled split",
        description=(
            "Score a split (default: test) with a trained model and print per-class and mean "
            "tile I-AUROC, I-AP, pixel P-AUROC, P-AP, PRO (AUPRO to 30%% FPR) and F1-max. "
            "Other models (--compare) and the nearest-neighbour baseline (--nearest-neighbour) "
            "are scored on the same tiles and the same backbone features in the same run."
        ),
    )
    parser.add_argument(
        "--model", type=Path, required=True, help="model folder from `station train`"
    )
    parser.add_argument("--data", type=Path, required=True, help="data folder")
    parser.add_argument("--layout", choices=["aitex", "mvtec", "folder"], default="aitex")
    parser.add_argument("--split", choices=["train", "val", "test"], default="test")
    parser.add_argument(
        "--classes", type=split_classes, help="classes to evaluate (default: the model's)"
    )
    parser.add_argument("--json", type=Path, help="write the metrics as JSON here")
    parser.add_argument("--maps", type=Path, help="save anomaly-map images of the top tiles here")
    parser.add_argument(
        "--compare", type=Path, nargs="*", default=[], help="more model folders to score alongside"
    )
    parser.add_argument(
        "--nearest-neighbour",
        action="store_true",
        help="add the nearest-neighbour patch-distance baseline",
    )
    parser.add_argument(
        "--nn-bank-fraction",
        type=float,
        default=0.05,
        help="fraction of training patches in its memory bank (default 0.05)",
    )
    parser.add_argument("--cache-dir", type=Path, help="feature cache folder (default MODEL/cache)")
    parser.add_argument(
        "--device", default="cpu", help="where to score: cpu (default), cuda or cuda:N"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the tables; returns the exit status."""
    from training.model_evaluation import evaluate_model

    report = evaluate_model(
        args.model,
        args.data,
        layout=args.layout,
        split=args.split,
        classes=args.classes,
        compare=args.compare,
        nearest_neighbour=args.nearest_neighbour,
        nn_bank_fraction=args.nn_bank_fraction,
        cache_dir=args.cache_dir,
        device=args.device,
        maps_dir=args.maps,
        json_path=args.json,
    )
    print(report.text())
    return 0

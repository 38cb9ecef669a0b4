"""``station evaluate``: detection metrics of one or more models on a labelled split.

``station evaluate --pipeline``: defect-level figures from the real pipeline on replayed
AITEX test strips (:mod:`station.pipeline.defect_evaluation`).
"""

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
            "are scored on the same tiles and the same backbone features in the same run. "
            "With --pipeline, the AITEX test strips are replayed through the real station "
            "pipeline instead and scored the way a mill counts: defects found and missed, "
            "localisation error in mm, false alarms per metre of defect-free fabric."
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
    pipeline = parser.add_argument_group("defect-level figures (--pipeline)")
    pipeline.add_argument(
        "--pipeline",
        action="store_true",
        help="replay the AITEX test strips through the station pipeline at the model's "
        "calibrated threshold and count defects found, missed, localised and false alarms",
    )
    pipeline.add_argument(
        "--strips",
        type=int,
        help="replay this many test strips, spread over defect and defect-free ones "
        "(default: all of the classes' test strips)",
    )
    pipeline.add_argument(
        "--overlap-px",
        type=int,
        help="tile overlap of the replay (default: the station's, tiling.overlap_px)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the tables; returns the exit status."""
    if args.pipeline:
        return _run_pipeline(args)
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


def _run_pipeline(args: argparse.Namespace) -> int:
    """``--pipeline``: replay the test strips, print the table, write the JSON."""
    from tqdm import tqdm

    from station.pipeline.defect_evaluation import aitex_test_strips, evaluate_on_strips
    from station.pipeline.defect_evaluation_report import evaluation_text, write_evaluation_json
    from training.public import ConfigError, read_metadata

    refused = [
        option
        for option, given in (
            ("--layout " + args.layout, args.layout != "aitex"),
            ("--split " + args.split, args.split != "test"),
            ("--compare", bool(args.compare)),
            ("--nearest-neighbour", args.nearest_neighbour),
            ("--maps", args.maps is not None),
        )
        if given
    ]
    if refused:
        raise ConfigError(
            f"--pipeline replays the AITEX test split only; it does not take {', '.join(refused)}",
            hint="leave those options out, or run `station evaluate` without --pipeline",
        )
    classes = args.classes or list(read_metadata(args.model).model_spec().classes)
    strips = aitex_test_strips(args.data, classes, limit=args.strips)
    with tqdm(total=len(strips), unit="strip", desc="replaying") as bar:

        def show(done: int, total: int) -> None:
            bar.update(done - bar.n)

        result = evaluate_on_strips(
            args.model, strips, overlap_px=args.overlap_px, device=args.device, progress=show
        )
    print(evaluation_text(result))
    if args.json is not None:
        write_evaluation_json(result, args.json)
        print(f"figures written to {args.json}")
    return 0

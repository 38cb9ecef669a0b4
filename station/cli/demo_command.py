"""``station demo``: the main job end to end on an embedded default.

Parses the arguments and calls :func:`station.demo_workflow.run_demo`, which
trains a small model (real AITEX fabric if present, else generated fabric),
evaluates it, runs a short roll through the real pipeline and, on generated
fabric, compares what it found with the planted defects.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="train, evaluate and run a short roll on the embedded default",
        description=(
            "Run the station's main job on this machine: train a small CRAS model (real AITEX "
            "fabric if present, else generated fabric), evaluate it and print the metrics, then "
            "run a short roll through the pipeline; on generated fabric, compare the defects "
            "found with the planted ones. CPU only, nothing downloaded."
        ),
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("station_demo"),
        help="working folder (default ./station_demo)",
    )
    parser.add_argument(
        "--data",
        choices=["auto", "aitex", "synthetic"],
        default="auto",
        help="auto: AITEX when present, else generated fabric",
    )
    parser.add_argument(
        "--epochs", type=int, default=None, help="training epochs (default 8 on AITEX, 6 synthetic)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from station.demo_workflow import run_demo

    outcome = run_demo(args.out, data=args.data, epochs=args.epochs)
    return 0 if outcome.succeeded else 1

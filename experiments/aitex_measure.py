"""``python -m experiments.aitex_measure MODEL_DIR [--aitex DIR] [--strips N] [...]``

Defect-level figures of one model on replayed AITEX test strips, for research runs.

A thin wrapper over the product's measurement, :mod:`station.pipeline.defect_evaluation`
(``station evaluate --pipeline``, docs/quality.md), that adds a factor on the calibrated
threshold for threshold sweeps (``--threshold-factor F``) and takes ``--overlap-px P``.
It prints the same table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from station.pipeline.defect_evaluation import aitex_test_strips, evaluate_on_strips
from station.pipeline.defect_evaluation_report import evaluation_text
from training.public import read_metadata


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--aitex", type=Path, default=Path("../shared/datasets/aitex"))
    parser.add_argument("--strips", type=int, help="how many test strips (default: all)")
    parser.add_argument("--threshold-factor", type=float, default=1.0)
    parser.add_argument("--overlap-px", type=int, help="tile overlap (default: the station's)")
    args = parser.parse_args(argv)
    classes = read_metadata(args.model_dir).model_spec().classes
    strips = aitex_test_strips(args.aitex, classes, limit=args.strips)
    result = evaluate_on_strips(
        args.model_dir,
        strips,
        overlap_px=args.overlap_px,
        threshold_factor=args.threshold_factor,
    )
    print(evaluation_text(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

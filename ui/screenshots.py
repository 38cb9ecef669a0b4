"""Screenshots of both windows with real content, for the README and the manual.

::

    python -m ui.screenshots --model MODEL_DIR --threshold-factor 1.3 [--out-dir docs/images]

Writes ``operator.png`` (the operator window replaying AITEX defect strips
when ``../shared/datasets/aitex`` or ``$CRAS_AITEX_DIR`` is present, else the
synthetic web), ``review.png`` (the QA window on a roll it has just reviewed)
and ``report_page1.png`` (page 1 of that roll's PDF report). ``MODEL_DIR`` is
a folder from ``station train``. Each window runs in its own process (one
QApplication each), through :mod:`ui.operator.screenshot` and
:mod:`ui.review.screenshot`, which can also be run alone.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def _aitex_dir() -> Path | None:
    """The AITEX folder the station's tools look for, if it is on this machine."""
    for candidate in (os.environ.get("CRAS_AITEX_DIR"), REPO_ROOT.parent / "shared/datasets/aitex"):
        if candidate and (Path(candidate) / "NODefect_images").is_dir():
            return Path(candidate)
    return None


def screenshot_commands(
    model: Path, out_dir: Path, *, threshold_factor: float, fabric: str, aitex: Path | None
) -> list[list[str]]:
    """The two screenshot commands, as argument lists for this Python."""
    operator = [sys.executable, "-m", "ui.operator.screenshot", "--model", str(model)]
    operator += ["--out", str(out_dir / "operator.png")]
    operator += ["--threshold-factor", str(threshold_factor)]
    operator += ["--aitex", str(aitex), "--fabric", fabric] if aitex else ["--synthetic"]
    review = [sys.executable, "-m", "ui.review.screenshot", "--model", str(model)]
    review += ["--out", str(out_dir / "review.png")]
    review += ["--pdf-page", str(out_dir / "report_page1.png")]
    return [operator, review]


def main(argv: list[str] | None = None) -> int:
    """Take both screenshots; returns the first non-zero exit status, else 0."""
    parser = argparse.ArgumentParser(prog="python -m ui.screenshots", description=__doc__)
    parser.add_argument("--model", type=Path, required=True, help="model folder (station train)")
    parser.add_argument("--out-dir", type=Path, default=Path("docs/images"), help="PNG folder")
    parser.add_argument(
        "--threshold-factor",
        type=float,
        default=1.0,
        help="x the model's threshold in the operator window (default 1)",
    )
    parser.add_argument("--fabric", default="02", help="AITEX fabric of the replayed strips")
    args = parser.parse_args(argv)
    if not (args.model / "model.json").is_file():
        print(f"error: {args.model} is not a model folder (no model.json)", file=sys.stderr)
        print("hint: pass a folder written by `station train`", file=sys.stderr)
        return 2
    args.out_dir.mkdir(parents=True, exist_ok=True)
    commands = screenshot_commands(
        args.model,
        args.out_dir,
        threshold_factor=args.threshold_factor,
        fabric=args.fabric,
        aitex=_aitex_dir(),
    )
    for command in commands:
        print("running:", " ".join(command[1:]), flush=True)
        status = subprocess.run(command, check=False).returncode
        if status != 0:
            return status
    print(f"screenshots in {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

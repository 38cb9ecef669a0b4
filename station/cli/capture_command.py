"""``station capture``: record good fabric from the station's source into a training set.

::

    station capture --config station.yaml --fabric denim_a --metres 50 --out captures/
    station train --data captures/ --layout folder --out models/line3

Writes ``OUT/FABRIC/*.png`` (strips cropped inside the web edges) and
``OUT/FABRIC/manifest.json``; a second capture of the same fabric adds strips.
Ctrl-C (SIGINT) or SIGTERM ends it cleanly with what it has, manifest written.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path
from types import FrameType

from tqdm import tqdm

logger = logging.getLogger("station.capture")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``station capture``."""
    parser = subparsers.add_parser(
        "capture",
        help="record good fabric from the station's source into a training set",
        description=(
            "Record METRES of good fabric from the source station.yaml configures (camera, "
            "replay or synthetic) into OUT/FABRIC/ as strips cropped inside the web edges, "
            "with OUT/FABRIC/manifest.json. Train on OUT with `station train --data OUT "
            "--layout folder`. Strips with known defects (synthetic source), strips the "
            "model flags (--skip-defects) and stretches given with --skip are left out."
        ),
    )
    parser.add_argument("--config", required=True, type=Path, help="station.yaml")
    parser.add_argument(
        "--fabric", required=True, help="fabric name: the class folder (letters, digits, _ . -)"
    )
    parser.add_argument(
        "--metres", required=True, type=float, help="metres of roll to record (> 0)"
    )
    parser.add_argument("--out", required=True, type=Path, help="training-set folder")
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="FROM_M-TO_M",
        help="leave out this stretch, metres from the capture's start (repeatable)",
    )
    parser.add_argument(
        "--skip-defects",
        action="store_true",
        help="score each strip with the config's model and leave out strips it flags",
    )
    parser.add_argument(
        "--strip-lines",
        type=int,
        default=256,
        help="lines per strip (default 256; at least the --tile-px you will train with)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Capture until --metres, the source's end or a signal; print what was written."""
    # Imported here: the source and pipeline modules are not needed for `station --help`.
    from station.capture import capture_good_fabric, capture_request

    request = capture_request(
        args.config,
        fabric=args.fabric,
        metres=args.metres,
        out_dir=args.out,
        skip=args.skip,
        skip_defects=args.skip_defects,
        strip_lines=args.strip_lines,
    )
    stop = threading.Event()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def on_signal(number: int, _frame: FrameType | None) -> None:
        logger.info("%s received: stopping", signal.Signals(number).name)
        stop.set()

    for sig in previous:
        signal.signal(sig, on_signal)
    bars: list[tqdm] = []  # made at the first strip, after the output and source checks

    def show(metres: float, strips: int) -> None:
        if not bars:
            bars.append(tqdm(total=round(request.metres, 2), unit="m", desc=request.fabric))
        bars[0].set_postfix(strips=strips, refresh=False)
        bars[0].update(round(min(metres, request.metres), 2) - bars[0].n)  # redrawn 10 x/s

    try:
        result = capture_good_fabric(request, stop=stop, progress=show)
    finally:
        for bar in bars:
            bar.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    record = result.record
    skipped = ", ".join(f"{k} {v}" for k, v in record["strips_skipped"].items() if v) or "none"
    print(
        f"capture {record['capture']} of {record['fabric']}: {record['strips_written']} strips "
        f"({record['metres_kept']:.2f} m) of {record['metres_captured']:.2f} m recorded, "
        f"stopped by {record['stopped_by']}; skipped: {skipped}\n"
        f"manifest: {result.manifest_path}",
        flush=True,
    )
    return 0

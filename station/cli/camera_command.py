"""``station camera``: commission a camera (list what a producer offers, grab test frames).

What an engineer runs first on a new station::

    station camera list --cti /opt/vendor/lib/producer.cti
    station camera grab --cti /opt/vendor/lib/producer.cti --device SERIAL --frames 5 --out grab/
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from station.acquisition.config import CameraConfig
from station.acquisition.grab import grab_frames
from station.acquisition.producer import DeviceDescription, GenTLProducer
from training.errors import ConfigError
from training.typed_config import validate_config

_COLUMNS = (
    ("id", "id"),
    ("vendor", "vendor"),
    ("model", "model"),
    ("serial", "serial_number"),
    ("user-defined name", "user_defined_name"),
    ("TL type", "tl_type"),
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``camera list`` and ``camera grab``."""
    camera = subparsers.add_parser(
        "camera", help="commission a GenICam camera: list devices, grab test frames"
    )
    actions = camera.add_subparsers(dest="camera_command", metavar="ACTION")
    actions.required = True

    listing = actions.add_parser("list", help="print the devices a GenTL producer offers")
    listing.add_argument("--cti", required=True, type=Path, help="GenTL producer file (.cti)")
    listing.set_defaults(handler=run_list)

    grab = actions.add_parser(
        "grab", help="save N frames as PNG plus settings.json with every readable feature"
    )
    grab.add_argument("--cti", required=True, type=Path, help="GenTL producer file (.cti)")
    grab.add_argument(
        "--device", default=None, help="device id, serial number or user-defined name"
    )
    grab.add_argument("--frames", type=int, default=1, help="number of frames (default 1)")
    grab.add_argument("--out", required=True, type=Path, help="folder for the PNGs and JSON")
    grab.add_argument(
        "--pixel-format", default=None, help="set this PixelFormat first (default: leave it)"
    )
    grab.add_argument(
        "--timeout-s", type=float, default=5.0, help="wait this long per frame (default 5)"
    )
    grab.set_defaults(handler=run_grab)


def format_device_table(devices: list[DeviceDescription]) -> str:
    """Devices as an aligned text table, one row per device."""
    rows = [[title for title, _ in _COLUMNS]]
    rows += [[str(getattr(d, attr) or "-") for _, attr in _COLUMNS] for d in devices]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def run_list(args: argparse.Namespace) -> int:
    """Print the producer's devices; exit status 1 when it offers none."""
    with GenTLProducer(args.cti, field="--cti") as producer:
        devices = producer.devices()
    if not devices:
        print(f"{args.cti} offers no devices (check power, cable, network)", file=sys.stderr)
        return 1
    print(format_device_table(devices))
    return 0


def _camera_config(args: argparse.Namespace) -> CameraConfig:
    if args.frames < 1:
        raise ConfigError(f"--frames: must be at least 1 (got {args.frames})", hint="e.g. 5")
    if args.timeout_s <= 0:
        raise ConfigError(f"--timeout-s: must be positive (got {args.timeout_s})", hint="e.g. 5")
    # Check the producer and device first so mistakes are reported with the option's name.
    with GenTLProducer(args.cti, field="--cti") as producer:
        producer.find(args.device, field="--device")
    data: dict[str, Any] = {
        "cti_path": str(args.cti),
        "device": args.device,
        "pixel_format": args.pixel_format,
        "output_channels": 3,
        "frame_timeout_s": args.timeout_s,
        "reconnect_attempts": 0,
        "queue_blocks": max(args.frames, 1),
    }
    return validate_config(CameraConfig, data, source="command line")


def _progress(text: str, *, done: bool) -> None:
    """One progress line, rewritten in place on a terminal, one line per step otherwise."""
    if sys.stderr.isatty():
        print("\r" + text, end="\n" if done else "", file=sys.stderr, flush=True)
    else:
        print(text, file=sys.stderr)


def run_grab(args: argparse.Namespace) -> int:
    """Grab ``--frames`` frames into ``--out`` (PNGs and settings.json)."""
    result = grab_frames(
        _camera_config(args),
        args.out,
        frames=args.frames,
        progress=lambda done, wanted: _progress(
            f"grabbed {done}/{wanted} frames", done=done == wanted
        ),
    )
    print(f"saved {len(result.frame_files)} frame(s) and {result.settings_path}")
    return 0

"""``station report``: a roll's defect report and 4-point grade as CSV, JSON or PDF."""

from __future__ import annotations

import argparse
import uuid

from station.cli.db_command import add_store_arguments
from station.store.config import load_store_config
from station.store.export import ReportFormat, write_roll_report
from station.store.images import ImageStore
from station.store.pdf_report import write_pdf_report
from station.store.repository import DefectRepository
from training.errors import ConfigError

PDF_FORMAT = "pdf"


def _roll_key(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a roll key (UUID)") from None


def _report(args: argparse.Namespace) -> int:
    config = load_store_config(args.config, url=args.url, image_root=args.image_root)
    repository = DefectRepository.connect(config.url, connect_timeout_s=config.connect_timeout_s)
    try:
        if args.list:
            for roll in repository.list_rolls(limit=args.list):
                ended = f"{roll.ended_at:%Y-%m-%d %H:%M}" if roll.ended_at else "running"
                print(
                    f"{roll.lot_number:<20} {roll.key}  {roll.station:<12} {roll.fabric_type:<12} "
                    f"started {roll.started_at:%Y-%m-%d %H:%M}  ended {ended}"
                )
            return 0
        if (args.roll is None and args.roll_key is None) or args.out is None:
            raise ConfigError(
                "station report needs the roll and the output file",
                hint="give --roll LOT (or --roll-key KEY) and --out FILE; "
                "--list shows the newest rolls",
            )
        roll = repository.get_roll(
            roll_key=args.roll_key, lot_number=None if args.roll_key else args.roll
        )
        limit = args.limit if args.limit is not None else config.grade_limit_points_per_100yd2
        if args.format == PDF_FORMAT:
            images = ImageStore(config.image_root) if config.image_root.is_dir() else None
            result = write_pdf_report(
                repository, images, roll.key, args.out, limit_points_per_100yd2=limit
            )
        else:
            result = write_roll_report(
                repository,
                roll.key,
                args.out,
                report_format=args.format,
                limit_points_per_100yd2=limit,
            )
        summary = repository.roll_summary(roll.key, limit_points_per_100yd2=limit)
    finally:
        repository.close()
    if summary.grade is not None:
        verdict = "PASS" if summary.grade.passed else "FAIL"
        grade = f"{summary.grade.points_per_100yd2:.1f} points/100 yd² (limit {limit:g}): {verdict}"
    else:
        grade = f"not graded: {summary.grade_problem}"
    print(
        f"roll {roll.lot_number}: {result.defect_count} defect(s), {grade}; "
        f"report written to {result.path}"
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``station report``."""
    parser = subparsers.add_parser(
        "report", help="write a roll's defect report and grade (CSV/JSON/PDF)"
    )
    add_store_arguments(parser)
    parser.add_argument("--roll", default=None, help="lot number of the roll")
    parser.add_argument(
        "--roll-key",
        type=_roll_key,
        default=None,
        help="roll key, when a lot number was inspected more than once",
    )
    parser.add_argument(
        "--format",
        choices=[*(f.value for f in ReportFormat), PDF_FORMAT],
        default="csv",
        help="csv or json (every field), or pdf (grade, roll map, defect table with pictures)",
    )
    parser.add_argument("--out", default=None, help="file to write")
    parser.add_argument(
        "--limit",
        type=float,
        default=None,
        help="grade limit in points per 100 yd² (default: config, usually 40)",
    )
    parser.add_argument(
        "--list",
        type=int,
        nargs="?",
        const=20,
        default=None,
        metavar="N",
        help="list the N newest rolls instead (default 20)",
    )
    parser.set_defaults(handler=_report)

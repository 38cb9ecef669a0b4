"""``station db``: create or upgrade the defect database, status, flush, retention, export.

``station db status`` exits with 0 when all is well, 1 when migrations are not
current, and 3 when the database is unreachable (it still prints the local
journal's backlog then).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import datetime

from station.store.backlog import DatabaseStatus, database_status, flush_journal
from station.store.config import RetentionConfig, load_store_config
from station.store.engine import create_store_engine, safe_url
from station.store.errors import StoreError
from station.store.export import export_training_set
from station.store.images import ImageStore
from station.store.migrate import schema_status, upgrade_database
from station.store.repository import DefectRepository
from station.store.retention import apply_retention
from station.store.users import Role, UserDirectory, UserError


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    """--config / --url / --image-root, shared by the store's commands."""
    parser.add_argument(
        "--config",
        default=None,
        help="YAML with the store settings (or a station config with a store: section)",
    )
    parser.add_argument(
        "--url",
        default=None,
        help="database URL, e.g. sqlite:///station_data/defects.sqlite3 or "
        "postgresql+psycopg://user@host:5432/db (default: from --config, else the "
        "station's SQLite file)",
    )
    parser.add_argument(
        "--image-root", default=None, help="image store folder (default: from config)"
    )


def _aware(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a time zone, e.g. 2025-01-31T00:00+00:00")
    return value


def _upgrade(args: argparse.Namespace) -> int:
    config = load_store_config(args.config, url=args.url)
    engine = create_store_engine(
        config.url, connect_timeout_s=config.connect_timeout_s, create=True
    )
    try:
        before = schema_status(engine)
        after = upgrade_database(engine)
    finally:
        engine.dispose()
    if before.current == after.current:
        print(f"{safe_url(config.url)}: already at migration {after.current} (newest)")
    else:
        print(
            f"{safe_url(config.url)}: migrated from {before.current or 'empty'} to {after.current}"
        )
    return 0


def _backlog_line(status: DatabaseStatus) -> str:
    backlog = status.backlog
    age_s = backlog.age_s()
    age = "" if age_s is None else f", oldest {age_s / 3600:.1f} h old"
    return f"journal:   {backlog.records} record(s) waiting in {backlog.directory}{age}"


def _status(args: argparse.Namespace) -> int:
    config = load_store_config(args.config, url=args.url)
    status = database_status(config)
    if status.unreachable is not None:
        print(f"database:  unreachable: {status.unreachable}")
        print(_backlog_line(status))
        if status.backlog.records:
            print("state:     `station db flush` writes the journal once the database answers")
        return status.exit_status
    schema = status.schema
    assert schema is not None
    print(f"database:  {status.url} (reachable)")
    print(f"migration: {schema.current or 'none'} (newest known: {schema.head})")
    if not schema.known:
        print("state:     migrated by a newer station version; update this software")
    elif schema.pending:
        print(f"state:     {len(schema.pending)} migration(s) pending; run `station db upgrade`")
    else:
        print("state:     up to date")
    for name, count in status.table_counts.items():
        print(f"{name + ':':<20} {count}")
    print(_backlog_line(status))
    return status.exit_status


def _flush(args: argparse.Namespace) -> int:
    config = load_store_config(args.config, url=args.url)
    result = flush_journal(config)
    print(
        f"wrote {result.written} journal record(s) to {safe_url(config.url)}; "
        f"{result.rejected} refused (kept in rejected.journal), {result.left} left in the journal"
    )
    return 0 if result.left == 0 else 1


def _retention(args: argparse.Namespace) -> int:
    config = load_store_config(args.config, url=args.url, image_root=args.image_root)
    policy = RetentionConfig(
        max_age_days=args.max_age_days
        if args.max_age_days is not None
        else config.retention.max_age_days,
        max_store_bytes=(
            args.max_store_bytes
            if args.max_store_bytes is not None
            else config.retention.max_store_bytes
        ),
    )
    if policy.max_age_days is None and policy.max_store_bytes is None:
        raise StoreError(
            "no retention limit is set",
            hint="pass --max-age-days and/or --max-store-bytes, or set store.retention",
        )
    repository = DefectRepository.connect(config.url, connect_timeout_s=config.connect_timeout_s)
    try:
        report = apply_retention(repository, ImageStore(config.image_root), policy)
    finally:
        repository.close()
    print(
        f"deleted images of {report.defects_cleared} reviewed defect(s), "
        f"freed {report.bytes_freed} bytes; store now {report.store_bytes} bytes"
    )
    if report.over_limit_bytes:
        print(
            f"still {report.over_limit_bytes} bytes over the limit: "
            "images of unreviewed defects are kept"
        )
    return 0


def _export_training(args: argparse.Namespace) -> int:
    config = load_store_config(args.config, url=args.url, image_root=args.image_root)
    repository = DefectRepository.connect(config.url, connect_timeout_s=config.connect_timeout_s)
    try:
        result = export_training_set(
            repository,
            ImageStore(config.image_root),
            args.out,
            since=args.since,
            until=args.until,
            fabric_class=args.fabric_class,
        )
    finally:
        repository.close()
    labels = ", ".join(f"{label}: {n}" for label, n in sorted(result.by_label.items())) or "none"
    print(
        f"exported {result.exported} crop(s) to {result.out_dir} ({labels}); "
        f"{len(result.skipped)} skipped (see manifest.json)"
    )
    return 0


def _new_password(args: argparse.Namespace) -> str:
    """The new password: one line of stdin with --password-stdin, else asked twice."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(f"new password for {args.name}: ")
    if getpass.getpass("the same password again: ") != first:
        raise UserError("the two passwords differ", hint="run the command again")
    return first


def _users(args: argparse.Namespace) -> UserDirectory:
    config = load_store_config(args.config, url=args.url)
    return UserDirectory.connect(config.url, connect_timeout_s=config.connect_timeout_s)


def _user_add(args: argparse.Namespace) -> int:
    password = _new_password(args)
    users = _users(args)
    try:
        user = users.add_user(args.name, role=args.role, password=password)
    finally:
        users.close()
    print(f"added user {user.name} with role {user.role.value}")
    return 0


def _user_reset_password(args: argparse.Namespace) -> int:
    password = _new_password(args)
    users = _users(args)
    try:
        users.reset_password(args.name, password=password)
    finally:
        users.close()
    print(f"new password set for {args.name}")
    return 0


def _user_list(args: argparse.Namespace) -> int:
    users = _users(args)
    try:
        for user in users.list_users():
            print(f"{user.name:<24} {user.role.value:<9} since {user.created_at:%Y-%m-%d}")
    finally:
        users.close()
    return 0


def _register_user_commands(commands: argparse._SubParsersAction) -> None:
    user = commands.add_parser("user", help="users of the operator and QA windows")
    actions = user.add_subparsers(dest="user_command", metavar="ACTION")
    actions.required = True
    add = actions.add_parser("add", help="add a user (the password is asked for)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[role.value for role in Role])
    add.set_defaults(handler=_user_add)
    reset = actions.add_parser("reset-password", help="give a user a new password")
    reset.add_argument("name")
    reset.set_defaults(handler=_user_reset_password)
    for parser in (add, reset):
        add_store_arguments(parser)
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from one line of standard input (for scripts)",
        )
    listing = actions.add_parser("list", help="list the users and their roles")
    add_store_arguments(listing)
    listing.set_defaults(handler=_user_list)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``station db`` and its sub-commands."""
    parser = subparsers.add_parser(
        "db", help="defect database: upgrade, status, flush, retention, training export, users"
    )
    commands = parser.add_subparsers(dest="db_command", metavar="ACTION")
    commands.required = True

    upgrade = commands.add_parser("upgrade", help="create the tables or apply pending migrations")
    add_store_arguments(upgrade)
    upgrade.set_defaults(handler=_upgrade)

    status = commands.add_parser(
        "status", help="reachability, migration, row counts, journal backlog"
    )
    add_store_arguments(status)
    status.set_defaults(handler=_status)

    flush = commands.add_parser(
        "flush", help="write the journal's records to the database (no pipeline runs)"
    )
    add_store_arguments(flush)
    flush.set_defaults(handler=_flush)

    retention = commands.add_parser(
        "retention", help="delete images of reviewed defects by age/size"
    )
    add_store_arguments(retention)
    retention.add_argument("--max-age-days", type=float, default=None)
    retention.add_argument("--max-store-bytes", type=int, default=None)
    retention.set_defaults(handler=_retention)

    training = commands.add_parser(
        "export-training", help="reviewed defects' crops + labels for training"
    )
    add_store_arguments(training)
    training.add_argument("--out", required=True, help="new or empty folder to export into")
    training.add_argument(
        "--since", type=_aware, default=None, help="ISO time with zone, inclusive"
    )
    training.add_argument(
        "--until", type=_aware, default=None, help="ISO time with zone, exclusive"
    )
    training.add_argument("--fabric-class", default=None)
    training.set_defaults(handler=_export_training)

    _register_user_commands(commands)

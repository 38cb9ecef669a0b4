"""A station process for the recipe tests: rolls one after another in one process.

It loads ``station.yaml`` once (``recipes.per_roll`` on) and then obeys one
command per line on stdin, answering on stdout (flushed at once):

- ``roll LOT ARTICLE``: one short roll of ``ARTICLE`` through the real pipeline
  (:func:`~station.pipeline.headless.run_headless`, as ``station run`` does);
  answers ``ROLL <lot> <roll key> <recipe name> <recipe version> <model sha256>``
  as the database recorded the roll's inspection run, or ``FAILED <message>``.
- ``list``: the live recipes as this process's store reads them, one
  ``RECIPE <name> <version> <articles,> <model sha256>`` line each, then ``END``.
- ``quit`` (or end of input): exit 0.

It prints ``READY`` once it is waiting for its first command.

    python -m tests.helpers.recipe_station_child --config station.yaml [--metres 0.1]
"""

from __future__ import annotations

import argparse
import sys
import threading
import uuid
from typing import Any

from sqlalchemy import select

from station.pipeline.config import load_station_config
from station.pipeline.headless import run_headless
from station.store.engine import create_store_engine
from station.store.models import InspectionRun, ModelVersion, Roll
from station.store.recipes import RecipeBook


def recorded_run(url: str, roll_key: uuid.UUID) -> dict[str, Any]:
    """The roll's inspection run as the database holds it: recipe name, version, model hash."""
    engine = create_store_engine(url)
    try:
        with engine.connect() as connection:
            row = connection.execute(
                select(
                    InspectionRun.recipe_name,
                    InspectionRun.recipe_version,
                    InspectionRun.settings,
                    ModelVersion.sha256,
                )
                .join(Roll, InspectionRun.roll_id == Roll.id)
                .join(ModelVersion, InspectionRun.model_version_id == ModelVersion.id)
                .where(Roll.key == roll_key)
            ).one()
    finally:
        engine.dispose()
    return dict(row._mapping)


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--metres", type=float, default=0.1)
    args = parser.parse_args()
    base = load_station_config(args.config)
    say("READY")
    for line in sys.stdin:
        command = line.split()
        if not command or command[0] == "quit":
            break
        if command[0] == "list":
            book = RecipeBook.connect(base.store.url)
            try:
                for recipe in book.list_recipes():
                    articles = ",".join(recipe.fabrics)
                    say(f"RECIPE {recipe.name} {recipe.version} {articles} {recipe.model_sha256}")
            finally:
                book.close()
            say("END")
        elif command[0] == "roll":
            lot, article = command[1], command[2]
            config = base.model_copy(deep=True)
            config.roll.lot_number = lot
            config.roll.fabric_type = article
            try:
                summary = run_headless(
                    config, stop=threading.Event(), max_metres=args.metres, status_every_s=0
                )
            except Exception as error:  # a refused roll: report it, keep the station up
                say(f"FAILED {type(error).__name__}: {error}")
                continue
            if summary.error is not None or summary.roll_key is None:
                say(f"FAILED {summary.error}")
                continue
            run = recorded_run(base.store.url, summary.roll_key)
            say(
                f"ROLL {lot} {summary.roll_key} {run['recipe_name']} {run['recipe_version']} "
                f"{run['sha256']}"
            )
        else:
            say(f"FAILED unknown command {command[0]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

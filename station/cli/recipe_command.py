"""``station recipe``: publish, list, show and retire recipes (article -> model, settings)."""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Callable

from station.grading import FIRST_QUALITY_LIMIT_POINTS_PER_100YD2
from station.store.config import load_store_config
from station.store.model_store import ModelStore
from station.store.recipe_config import load_recipes_config
from station.store.recipes import DEFAULT_SENSITIVITY_RANGE, Recipe, RecipeBook


def _articles(text: str) -> list[str]:
    articles = [part.strip() for part in text.split(",") if part.strip()]
    if not articles:
        raise argparse.ArgumentTypeError("give at least one fabric article, e.g. denim-12oz")
    return articles


def _range(text: str) -> tuple[float, float]:
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not LO,HI, e.g. 0.8,1.25") from None
    return low, high


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in this environment (e.g. a container)
        return "unknown"


def _book(args: argparse.Namespace) -> RecipeBook:
    config = load_store_config(args.config, url=args.url)
    return RecipeBook.connect(config.url, connect_timeout_s=config.connect_timeout_s)


def _with_book(args: argparse.Namespace, work: Callable[[RecipeBook], int]) -> int:
    book = _book(args)
    try:
        return work(book)
    finally:
        book.close()


def _describe(recipe: Recipe) -> str:
    state = f"retired {recipe.retired_at:%Y-%m-%d %H:%M}" if recipe.retired_at else "live"
    return "\n".join(
        [
            f"recipe:            {recipe.name} version {recipe.version} ({state})",
            f"fabric articles:   {', '.join(recipe.fabrics)}",
            f"model:             {recipe.model_sha256}",
            f"threshold factor:  {recipe.threshold_factor:g}",
            f"sensitivity range: {recipe.sensitivity_min:g} .. {recipe.sensitivity_max:g}",
            f"grade limit:       {recipe.grade_limit_points_per_100yd2:g} points per 100 yd²",
            f"published:         {recipe.published_at:%Y-%m-%d %H:%M} UTC by {recipe.published_by}",
        ]
    )


def _model_store(args: argparse.Namespace) -> ModelStore:
    return ModelStore(load_recipes_config(args.config, model_store=args.model_store).model_store)


def _publish(args: argparse.Namespace) -> int:
    model_store = _model_store(args)

    def publish(book: RecipeBook) -> int:
        recipe = book.publish(
            args.model_dir,
            model_store,
            name=args.name,
            fabrics=args.fabric,
            threshold_factor=args.threshold_factor,
            sensitivity=args.sensitivity_range,
            grade_limit_points_per_100yd2=args.grade_limit,
            published_by=args.by or _login_name(),
        )
        print(f"published {recipe.name} version {recipe.version}; model in {model_store.root}")
        print(_describe(recipe))
        return 0

    return _with_book(args, publish)


def _list(args: argparse.Namespace) -> int:
    def show_all(book: RecipeBook) -> int:
        recipes = book.list_recipes(include_retired=args.all)
        if not recipes:
            print("no recipes" + ("" if args.all else " (live); --all shows retired ones"))
        for recipe in recipes:
            state = "retired" if recipe.retired else "live"
            print(
                f"{recipe.name:<24} v{recipe.version:<4} {state:<8} "
                f"{','.join(recipe.fabrics):<32} model {recipe.model_sha256[:12]}"
            )
        return 0

    return _with_book(args, show_all)


def _show(args: argparse.Namespace) -> int:
    model_store = _model_store(args)

    def show(book: RecipeBook) -> int:
        recipe = book.show(args.name, version=args.version)
        print(_describe(recipe))
        stored = model_store.load(recipe.model_sha256)  # raises for a corrupt copy
        print(f"model store:       verified, {len(stored.files)} files in {stored.path}")
        return 0

    return _with_book(args, show)


def _retire(args: argparse.Namespace) -> int:
    def retire(book: RecipeBook) -> int:
        for recipe in book.retire(args.name, version=args.version):
            print(f"retired {recipe.name} version {recipe.version}")
        return 0

    return _with_book(args, retire)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        default=None,
        help="station YAML: its store: section gives the database, recipes: the model store",
    )
    parser.add_argument("--url", default=None, help="database URL (default: from --config)")
    parser.add_argument(
        "--model-store", default=None, help="model store folder (default: recipes.model_store)"
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``station recipe`` and its sub-commands."""
    parser = subparsers.add_parser(
        "recipe",
        help="publish, list, show and retire recipes",
        description="Recipes say which model, with which settings, inspects each fabric "
        "article. An article's current recipe is the newest live version covering it.",
    )
    commands = parser.add_subparsers(dest="recipe_command", metavar="ACTION")
    commands.required = True

    publish = commands.add_parser(
        "publish",
        help="check a model, copy it into the model store, record a new recipe version",
    )
    publish.add_argument("model_dir", metavar="MODEL_DIR", help="model folder to publish")
    publish.add_argument(
        "--name", required=True, help="recipe name (publishing again: next version)"
    )
    publish.add_argument(
        "--fabric",
        required=True,
        type=_articles,
        metavar="A[,B]",
        help="fabric article(s) it covers, comma-separated; each must be a class of the model",
    )
    publish.add_argument(
        "--threshold-factor",
        type=float,
        default=1.0,
        help="multiplies the calibrated threshold (default 1.0)",
    )
    publish.add_argument(
        "--sensitivity-range",
        type=_range,
        default=DEFAULT_SENSITIVITY_RANGE,
        metavar="LO,HI",
        help="the range operators may set (default {},{})".format(*DEFAULT_SENSITIVITY_RANGE),
    )
    publish.add_argument(
        "--grade-limit",
        type=float,
        default=FIRST_QUALITY_LIMIT_POINTS_PER_100YD2,
        help="4-point pass/fail limit in points per 100 yd² (default %(default)g)",
    )
    publish.add_argument("--by", default=None, help="who publishes (default: your login name)")
    _add_common(publish)
    publish.set_defaults(handler=_publish)

    listing = commands.add_parser("list", help="list live recipe versions")
    listing.add_argument("--all", action="store_true", help="retired versions too")
    _add_common(listing)
    listing.set_defaults(handler=_list)

    show = commands.add_parser(
        "show", help="show one recipe version (default: the newest) and verify its stored model"
    )
    show.add_argument("name", metavar="NAME")
    show.add_argument("--version", type=int, default=None, help="this version")
    _add_common(show)
    show.set_defaults(handler=_show)

    retire = commands.add_parser(
        "retire",
        help="retire a recipe (every live version; with --version V only that one, "
        "so the version before is current again)",
    )
    retire.add_argument("name", metavar="NAME")
    retire.add_argument("--version", type=int, default=None, help="only this version")
    _add_common(retire)
    retire.set_defaults(handler=_retire)

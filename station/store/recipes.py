"""Recipes: which model, and with which settings, inspects each fabric article.

A recipe has a name and covers one or more fabric articles. Publishing it
checks the model (its ``model.json`` reads, its tensors match its hash, it has
a calibrated threshold, and every article is one of its classes), copies the
model into the :class:`~station.store.model_store.ModelStore` and records the
recipe in the database. Publishing a name again makes version n + 1; the
older versions stay for the record. The **current recipe of an article** is
the newest version, not retired, that covers it; retiring a version brings
the one before it back (a roll-back), retiring a name retires all of it.

Usage::

    book = RecipeBook.connect(url)
    recipe = book.publish("models/denim", ModelStore("models_store"), name="denim",
                          fabrics=["denim-12oz"], published_by="emil")
    book.current_for("denim-12oz")      # NoRecipeError when no recipe covers it
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from station.grading import FIRST_QUALITY_LIMIT_POINTS_PER_100YD2
from station.store.engine import is_connection_error, unreachable_error
from station.store.model_store import ModelStore
from station.store.models import Recipe as RecipeRow
from station.store.models import RecipeArticle
from station.store.recipe_rules import (
    DEFAULT_SENSITIVITY_RANGE,
    NoRecipeError,
    Recipe,
    RecipeError,
    check_publishable,
    check_settings,
    clean_name,
)
from station.store.records import utc_now
from station.store.repository import DefectRepository

__all__ = ["DEFAULT_SENSITIVITY_RANGE", "NoRecipeError", "Recipe", "RecipeBook", "RecipeError"]
T = TypeVar("T")


class RecipeBook:
    """The recipes of one station database.

    Args:
        engine: The store's engine (``DefectRepository.engine``).
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @classmethod
    def connect(cls, url: str, *, connect_timeout_s: float = 5.0) -> RecipeBook:
        """The recipes of the database at ``url`` (schema checked); :meth:`close` it after.

        Raises:
            StoreUrlError, DatabaseUnreachableError, SchemaError.
        """
        return cls(DefectRepository.connect(url, connect_timeout_s=connect_timeout_s).engine)

    def close(self) -> None:
        """Close the connection pool."""
        self._engine.dispose()

    def _run(self, work: Callable[[Connection], T]) -> T:
        try:
            with self._engine.begin() as connection:
                return work(connection)
        except SQLAlchemyError as error:
            if is_connection_error(error):
                raise unreachable_error(self._engine.url, error) from None
            raise

    def publish(
        self,
        model_dir: str | Path,
        model_store: ModelStore,
        *,
        name: str,
        fabrics: Iterable[str],
        threshold_factor: float = 1.0,
        sensitivity: tuple[float, float] = DEFAULT_SENSITIVITY_RANGE,
        grade_limit_points_per_100yd2: float = FIRST_QUALITY_LIMIT_POINTS_PER_100YD2,
        published_by: str,
    ) -> Recipe:
        """Check the model, copy it into the model store and record the next version.

        Raises:
            RecipeError: bad name, articles or settings; no calibration; an article
                the model does not know.
            ModelFileError, ModelStoreError: the model folder or the model store.
            DatabaseUnreachableError: the database cannot be reached.
        """
        name = clean_name(name, "recipe name")
        published_by = clean_name(published_by, "publisher's name")
        articles = sorted({clean_name(article, "fabric article") for article in fabrics})
        if not articles:
            raise RecipeError(
                f"the recipe {name} covers no fabric article", hint="give --fabric A[,B]"
            )
        check_settings(threshold_factor, sensitivity, grade_limit_points_per_100yd2)
        model_hash = check_publishable(model_dir, articles)
        model_store.publish(model_dir)
        values = {
            "name": name,
            "model_sha256": model_hash,
            "threshold_factor": float(threshold_factor),
            "sensitivity_min": float(sensitivity[0]),
            "sensitivity_max": float(sensitivity[1]),
            "grade_limit_points_per_100yd2": float(grade_limit_points_per_100yd2),
            "published_by": published_by,
            "published_at": utc_now(),
        }

        def record(connection: Connection) -> int:
            newest = connection.execute(
                select(func.max(RecipeRow.version)).where(RecipeRow.name == name)
            ).scalar_one()
            version = (newest or 0) + 1
            recipe_id = connection.execute(
                insert(RecipeRow).values(version=version, **values).returning(RecipeRow.id)
            ).scalar_one()
            connection.execute(
                insert(RecipeArticle),
                [{"recipe_id": recipe_id, "article": article} for article in articles],
            )
            return version

        try:
            version = self._run(record)
        except IntegrityError:
            raise RecipeError(
                f"another publish of the recipe {name} happened at the same moment",
                hint="run the command again; it will become the next version",
            ) from None
        return self.show(name, version=version)

    def _load(self, connection: Connection, rows: list) -> list[Recipe]:
        ids = [row.id for row in rows]
        articles: dict[int, list[str]] = {recipe_id: [] for recipe_id in ids}
        if ids:
            pairs = connection.execute(
                select(RecipeArticle.recipe_id, RecipeArticle.article)
                .where(RecipeArticle.recipe_id.in_(ids))
                .order_by(RecipeArticle.article)
            )
            for recipe_id, article in pairs:
                articles[recipe_id].append(article)
        return [
            Recipe(
                name=row.name,
                version=row.version,
                fabrics=tuple(articles[row.id]),
                model_sha256=row.model_sha256,
                threshold_factor=row.threshold_factor,
                sensitivity_min=row.sensitivity_min,
                sensitivity_max=row.sensitivity_max,
                grade_limit_points_per_100yd2=row.grade_limit_points_per_100yd2,
                published_by=row.published_by,
                published_at=row.published_at,
                retired_at=row.retired_at,
            )
            for row in rows
        ]

    def _select(self, *conditions, order=(RecipeRow.name, RecipeRow.version)) -> list[Recipe]:
        statement = select(*RecipeRow.__table__.columns).where(*conditions).order_by(*order)

        def read(connection: Connection) -> list[Recipe]:
            return self._load(connection, list(connection.execute(statement).all()))

        return self._run(read)

    def list_recipes(self, *, include_retired: bool = False) -> list[Recipe]:
        """Every version of every recipe, by name and version (retired ones on request)."""
        conditions = () if include_retired else (RecipeRow.retired_at.is_(None),)
        return self._select(*conditions)

    def show(self, name: str, *, version: int | None = None) -> Recipe:
        """One version of a recipe (default: its newest, retired or not).

        Raises:
            RecipeError: no such recipe or version.
        """
        versions = self._select(RecipeRow.name == name.strip())
        if not versions:
            raise RecipeError(
                f"there is no recipe named {name!r}", hint="list them with `station recipe list`"
            )
        if version is None:
            return versions[-1]
        for recipe in versions:
            if recipe.version == version:
                return recipe
        known = ", ".join(str(recipe.version) for recipe in versions)
        raise RecipeError(
            f"the recipe {name} has no version {version}", hint=f"its versions are {known}"
        )

    def retire(self, name: str, *, version: int | None = None) -> list[Recipe]:
        """Retire one version of a recipe (the previous live one becomes current again),
        or every live version when ``version`` is None.

        Returns:
            The versions retired now.

        Raises:
            RecipeError: no such recipe or version, or it is retired already.
        """
        target = self.show(name, version=version)  # raises for an unknown name or version
        condition = [RecipeRow.name == target.name, RecipeRow.retired_at.is_(None)]
        if version is not None:
            condition.append(RecipeRow.version == version)
        live = [recipe.version for recipe in self._select(*condition)]
        if not live:
            which = f"version {version} of the recipe" if version else "every version of"
            raise RecipeError(
                f"{which} {target.name} is retired already",
                hint="publish it again to bring it back",
            )
        statement = update(RecipeRow).where(*condition).values(retired_at=utc_now())
        self._run(lambda connection: connection.execute(statement))
        return [self.show(target.name, version=number) for number in live]

    def current_for(self, article: str) -> Recipe:
        """The newest non-retired recipe version that covers ``article``.

        Raises:
            NoRecipeError: no live recipe covers it.
        """
        article = article.strip() if isinstance(article, str) else ""
        covering = select(RecipeArticle.recipe_id).where(RecipeArticle.article == article)
        found = self._select(
            RecipeRow.id.in_(covering),
            RecipeRow.retired_at.is_(None),
            order=(RecipeRow.published_at.desc(), RecipeRow.id.desc()),
        )
        if not found:
            raise NoRecipeError(
                f"no recipe covers the fabric article {article!r}",
                hint="check the article on the roll ticket, or publish a recipe for it "
                "(`station recipe publish MODEL_DIR --name N --fabric ARTICLE`)",
            )
        return found[0]

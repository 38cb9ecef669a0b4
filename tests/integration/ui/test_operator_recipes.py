"""The operator window on a station that runs each roll's recipe (``recipes.per_roll``).

Real offscreen window, real pipeline on the synthetic source, a real model
published as a recipe into a real model store and SQLite database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from station.store.config import StoreConfig
from station.store.engine import create_store_engine
from station.store.model_store import ModelStore
from station.store.models import InspectionRun
from station.store.recipes import RecipeBook
from tests.integration.ui.test_operator_window import (
    close_window,
    make_config,
    no_thread_left,  # noqa: F401 - autouse: every thread a test starts has ended
    open_window,
    store_config,  # noqa: F401 - fixture
    wait_ended,
)
from training.public import read_metadata
from training.testing import shared_model_dir
from ui.operator.session import Phase, RollDetails
from ui.widgets.status_lights import Light


def test_a_refused_roll_is_shown_and_the_next_roll_runs_its_recipe(
    qtbot: Any,
    store_config: StoreConfig,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    model = shared_model_dir(classes=("grey_twill",), seed=3)
    model_store = ModelStore(tmp_path / "model_store")
    book = RecipeBook.connect(store_config.url)
    try:
        book.publish(
            model,
            model_store,
            name="twill-line",
            fabrics=["grey_twill"],
            threshold_factor=1.2,
            sensitivity=(0.6, 1.6),
            published_by="emil",
        )
    finally:
        book.close()
    config = make_config(
        model,
        store_config,
        synthetic={"total_lines": 4096, "line_rate_hz": 2000.0},
        recipes={"model_store": str(model_store.root), "per_roll": True},
    )
    config.model.path = None  # the station has no model of its own: recipes only
    window = open_window(qtbot, config)
    assert "recipe" in window.controls.model.text()

    # An article without a recipe: the roll is refused, the window says why, Start is free.
    window.start_roll(RollDetails(lot_number="LOT-SATIN", fabric_type="satin"))
    qtbot.waitUntil(
        lambda: window.session.phase is Phase.FAILED and not window.session.busy, timeout=60_000
    )
    qtbot.waitUntil(lambda: window.lights.lights["model"].light is Light.BAD, timeout=5000)
    assert "roll refused: no recipe covers the fabric article 'satin'" in (window.state_line.text())
    assert "roll refused" in window.banner.message.text()
    qtbot.waitUntil(window.controls.start.isEnabled, timeout=5000)

    # The next roll names an article with a recipe: it runs it, and the window shows it.
    window.start_roll(RollDetails(lot_number="LOT-TWILL", fabric_type="grey_twill"))
    qtbot.waitUntil(lambda: "recipe twill-line v1" in window.controls.model.text(), timeout=60_000)
    assert (window.controls.low, window.controls.high) == (0.6, 1.6)
    wait_ended(qtbot, window)
    engine = create_store_engine(store_config.url)
    with engine.connect() as connection:
        runs = connection.execute(
            select(InspectionRun.recipe_name, InspectionRun.recipe_version)
        ).all()
    engine.dispose()
    assert [tuple(run) for run in runs] == [("twill-line", 1)]
    assert read_metadata(model).model_hash[:12] in window.controls.model.text()
    close_window(qtbot, window)

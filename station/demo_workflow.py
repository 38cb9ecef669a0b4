"""The demo workflow behind ``station demo``: train, evaluate, run a short roll.

Train a small multi-class model (on the real AITEX fabric when it is on this
machine, else on generated woven fabric), evaluate it and print the table,
then run a short roll through the real station pipeline (replayed AITEX test
strips or a simulated web with planted defects, CPU backend, SQLite) and print
what it found; on the simulated web, also how that compares with the planted
defects. Everything runs on the CPU with the offline backbone and writes under
the output folder.

This is the one station module besides the CLI that drives the trainer: it
imports ``training`` beyond :mod:`training.public`, and only inside functions,
so importing it costs nothing (see the seam contract in pyproject.toml).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from station.pipeline.demo import DemoRollSummary, run_demo_roll
from station.pipeline.planted_truth import format_truth_table
from station.store import DefectOrder, DefectQuery, DefectStore
from station.store.config import StoreConfig
from training.public import ConfigError

DEMO_CLASSES = ("grey_twill", "fine_twill", "dark_plain", "charcoal_plain")
DEMO_ROLL_METRES = 0.5
SYNTHETIC_NOISE_STD = 0.5
AITEX_EPOCHS = 8
SYNTHETIC_EPOCHS = 6

DemoData = Literal["auto", "aitex", "synthetic"]
Say = Callable[[str], None]


def say_now(text: str) -> None:
    """Print ``text`` at once (progress lines must not wait in a pipe's buffer)."""
    print(text, flush=True)


@dataclass(frozen=True)
class DemoOutcome:
    """What a demo run produced.

    Attributes:
        model_dir: The trained model's folder.
        roll: What the short roll found (with ``roll.truth`` on generated fabric).
        seconds: Wall time of the whole demo.
    """

    model_dir: Path
    roll: DemoRollSummary
    seconds: float

    @property
    def succeeded(self) -> bool:
        """True when the roll ran to its end without a pipeline error."""
        return self.roll.run.error is None


def run_demo(
    out: Path, *, data: DemoData = "auto", epochs: int | None = None, say: Say = say_now
) -> DemoOutcome:
    """Train, evaluate and run a short roll; report each step through ``say``.

    Args:
        out: Working folder (generated fabric, feature cache, model, station database).
        data: ``aitex`` (the real data, required), ``synthetic`` (generated fabric) or
            ``auto`` (AITEX when present, else generated fabric).
        epochs: Training epochs (default 8 on AITEX, 6 on generated fabric).
        say: Where progress and tables go (one string at a time).

    Raises:
        ConfigError: ``data="aitex"`` but the data set is not on this machine.
        CrasStationError: training, evaluation or the roll failed in a way a user can fix.
    """
    started = time.perf_counter()
    out = Path(out)
    from engines.parity_tiles import find_aitex_dir  # $CRAS_AITEX_DIR or ../shared

    aitex = find_aitex_dir() if data in ("auto", "aitex") else None
    if data == "aitex" and aitex is None:
        raise ConfigError(
            "the AITEX data set was not found", hint="set CRAS_AITEX_DIR or use --data synthetic"
        )
    model_dir = _train_and_evaluate(out, aitex=aitex, epochs=epochs, say=say)
    roll = _run_roll(model_dir, out, aitex=aitex, say=say)
    seconds = time.perf_counter() - started
    say(f"\nDemo finished in {seconds:.0f} s; model in {model_dir}")
    return DemoOutcome(model_dir=model_dir, roll=roll, seconds=seconds)


def _train_and_evaluate(out: Path, *, aitex: Path | None, epochs: int | None, say: Say) -> Path:
    """Train the demo model, print its test metrics, and return its folder."""
    from training.config import TrainConfig
    from training.data.datasets import load_tiles
    from training.evaluate import format_table, metrics_by_class, score_model
    from training.model_file import load_model
    from training.trainer import train

    if aitex is not None:
        data, layout, epochs = aitex, "aitex", epochs or AITEX_EPOCHS
        say(f"Demo on the real AITEX fabric in {aitex} (four fabrics, one model)")
    else:
        from training.data.fabric import write_mvtec_dataset

        data, layout, epochs = out / "fabric", "mvtec", epochs or SYNTHETIC_EPOCHS
        if not (data / DEMO_CLASSES[0]).is_dir():
            say(f"Generating woven fabric with planted defects into {data} ...")
            write_mvtec_dataset(data, classes=list(DEMO_CLASSES), seed=0)
        say(f"Demo on generated fabric ({', '.join(DEMO_CLASSES)})")
    config = TrainConfig(
        data=data,
        layout=layout,
        epochs=epochs,
        eval_every=2,
        cache_dir=out / "cache",
        # The generated set is small (136 training tiles, 5 steps an epoch): with the
        # default sigma (0.25, chosen on AITEX) it does not leave chance before the
        # learning check; 0.5 reached validation I-/P-AUROC 0.93 by epoch 4 on it.
        **({} if aitex is not None else {"noise_std": SYNTHETIC_NOISE_STD}),
    )
    model_dir = train(config, out / "model").model_dir
    model, _ = load_model(model_dir)
    tiles = load_tiles(data, layout=layout, split="test", classes=list(model.spec.classes))
    scored, _ = score_model(model, tiles)
    metrics = metrics_by_class(tiles, scored)
    say(f"\nTest split: {len(tiles)} tiles, {int(tiles.labels.sum())} with defects; metrics in %")
    say(format_table({"mean": metrics["mean"], **metrics["per_class"]}))
    return model_dir


def _run_roll(model_dir: Path, out: Path, *, aitex: Path | None, say: Say) -> DemoRollSummary:
    """A short roll through the real pipeline; reports the roll, top defects and truth table."""
    source = "aitex" if aitex is not None else "synthetic"
    what = "replayed AITEX test strips" if aitex else "a simulated web with planted defects"
    say(f"\nRunning a short roll through the station pipeline ({what}) ...")
    summary = run_demo_roll(
        model_dir,
        out_dir=out / "station",
        source=source,
        metres=DEMO_ROLL_METRES,
        progress=False,
        aitex_dir=aitex,
    )
    say(_roll_line(summary))
    _say_top_defects(summary, out, say)
    say(f"Defects and images: {summary.database_url}, {summary.image_root}")
    if summary.truth is not None:
        say("\nFound against the planted defects (a planted defect is found when a found box")
        say("overlaps its box; a found defect overlapping none is a false alarm):")
        say(format_truth_table(summary.truth))
    return summary


def _roll_line(summary: DemoRollSummary) -> str:
    if summary.grade:
        verdict = "PASS" if summary.grade.passed else "FAIL"
        grade = (
            f"{summary.grade.points_per_100yd2:.1f} points/100 yd², {verdict} "
            f"(limit {summary.grade.limit_points_per_100yd2:g})"
        )
    else:
        grade = f"not graded ({summary.grade_problem})"
    return (
        f"Roll {summary.lot_number}: {summary.metres_inspected:.2f} m inspected, "
        f"{summary.metres_uninspected:.2f} m not inspected; {summary.defect_count} defects, "
        f"{summary.points} points; grade {grade}\n"
        f"Throughput {summary.lines_per_s:.0f} lines/s, {summary.tiles_per_s:.1f} tiles/s (CPU)"
    )


def _say_top_defects(summary: DemoRollSummary, out: Path, say: Say) -> None:
    store_config = StoreConfig(
        url=summary.database_url,
        image_root=summary.image_root,
        journal_dir=out / "station" / "store-journal",
    )
    with DefectStore.open(store_config, with_writer=False) as store:
        page = store.repository.find_defects(
            DefectQuery(roll_key=summary.run.roll_key, order=DefectOrder.SCORE, limit=5)
        )
    if not page.items:
        return
    say("Highest-scoring defects:")
    say(
        f"{'along mm':>10}{'across mm':>11}{'length mm':>11}{'width mm':>10}"
        f"{'score':>8}{'points':>8}  class"
    )
    for d in page.items:
        say(
            f"{d.along_mm:>10.1f}{d.across_mm:>11.1f}{d.length_mm:>11.1f}{d.width_mm:>10.1f}"
            f"{d.peak_score:>8.3f}{d.points:>8}  {d.fabric_class}"
        )

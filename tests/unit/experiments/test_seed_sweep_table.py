"""The seed sweep's paired table: each variant against variant A, seed by seed."""

from __future__ import annotations

from experiments.seed_sweep import all_tables, paired_table


def _run(seed: int, variant: str, image: list[float], pixel: list[float]) -> dict:
    # Validation scores rise, so every rule keeps the last of the two evaluations.
    history = [{"epoch": 2, "val_score": 0.5}, {"epoch": 4, "val_score": 0.6}]
    pairs = zip(image, pixel, strict=True)
    trace = [{"test_image_auroc": i, "test_pixel_auroc": p} for i, p in pairs]
    return {"seed": seed, "variant": variant, "history": history, "trace": trace}


def test_differences_are_paired_by_seed_and_named_by_variant() -> None:
    runs = [
        _run(0, "raw", [0.0, 0.70], [0.0, 0.80]),
        _run(1, "raw", [0.0, 0.74], [0.0, 0.84]),
        _run(0, "no-dafs", [0.0, 0.72], [0.0, 0.79]),
        _run(1, "no-dafs", [0.0, 0.78], [0.0, 0.83]),
    ]
    table = paired_table(runs, "no-dafs")
    assert table.startswith("no-dafs against raw, 2 seeds paired: [0, 1]")
    last_image = next(line for line in table.splitlines() if line.startswith("| last | image"))
    assert "| 75.0 ± 4.2 | 72.0 ± 2.8 | +3.00 (1.41) | 3.00 | 2 of 2 |" in last_image
    last_pixel = next(line for line in table.splitlines() if line.startswith("| last | pixel"))
    assert "| -1.00 (0.00) | nan | 0 of 2 |" in last_pixel
    # Only variants that have runs get a table; one seed is not enough for a spread.
    assert all_tables(runs).count("against raw") == 1
    assert "needs two seeds" in paired_table(runs[:1] + runs[2:3], "no-dafs")

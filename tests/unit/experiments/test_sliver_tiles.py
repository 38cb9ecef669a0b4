"""Tile I-AUROC with sliver-defect tiles left out of the ranking."""

from __future__ import annotations

import math

import numpy as np

from experiments.sliver_tiles import sliver_table


def test_slivers_are_left_out_not_counted_as_normal() -> None:
    # Class "a": two normal tiles, a sliver tile scored highest and a large defect scored
    # between the normals. Class "b" holds only a sliver, so nothing is left at 100 px.
    scores = np.array([0.2, 0.3, 0.95, 0.25, 0.5, 0.4, 0.6], dtype=np.float32)
    defect_pixels = np.array([0, 0, 12, 5000, 0, 30, 0])
    class_index = np.array([0, 0, 0, 0, 1, 1, 1])
    table = sliver_table(scores, defect_pixels, class_index, ("a", "b"), (0, 100))

    # Every defective tile counted: the sliver beats both normals, the large one one of two.
    assert math.isclose(table[0]["a"], 0.75)
    assert math.isclose(table[0]["b"], 0.0)
    assert math.isclose(table[0]["mean"], 0.375)
    # At 100 px the sliver leaves the ranking; counted as a normal it would make "a" 1/3.
    assert math.isclose(table[100]["a"], 0.5)
    assert math.isnan(table[100]["b"])
    assert math.isclose(table[100]["mean"], 0.5)

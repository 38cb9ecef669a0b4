"""Data sets, tiling and the procedural fabric generator."""

"""The inspection station: acquisition, web assembly, tiling, inference, defects, store, CLI."""

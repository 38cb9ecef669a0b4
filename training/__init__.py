"""CRAS model (pure PyTorch), backbones, data sets, trainer, metrics and calibration.

The station uses this package only through :mod:`training.public`, a surface
that needs no torch (see docs/ARCHITECTURE.md, "The seam between station and
training"). Importing ``training`` itself imports nothing else.
"""

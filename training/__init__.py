"""CRAS model (pure PyTorch), backbones, data sets, trainer, metrics and calibration."""

"""CRAS: Center-aware Residual Anomaly Synthesis (see ../shared/docs/CRAS.md)."""

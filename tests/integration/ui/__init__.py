"""Tests of the PyQt6 apps (real windows on the offscreen platform)."""

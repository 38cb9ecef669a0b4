"""The real GenTL producer shipped in the genicam package (a virtual camera)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import require


def find_viky_cti() -> Path | None:
    """viky.cti inside the installed genicam package, or None."""
    try:
        import genicam
        import harvesters.core  # noqa: F401  (the tests need both)
    except ImportError:
        return None
    path = Path(os.path.dirname(genicam.__file__)) / "viky.cti"
    return path if path.is_file() else None


@pytest.fixture(scope="session")
def viky_cti() -> Path:
    """Path of viky.cti: three virtual devices (ids VikyTL_DEV_red/green/blue, serials 0/1/2),
    400x400 RGBa8 by default, a white scene with one square "ball" in the device's colour."""
    found = find_viky_cti()
    require(
        found is not None, "the genicam package's GenTL producer viky.cti (pip install genicam)"
    )
    assert found is not None
    return found

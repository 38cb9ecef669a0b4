"""Shared fixtures and the rules for when a test may skip.

Real parts only: the AITEX data in ../shared, the PostgreSQL server on
127.0.0.1:5432 and the GenTL producer in the genicam package. Outside CI a
test whose part is absent skips and says which part; under CI (``CI=true``)
the same absence is a failure, so nothing passes in CI by skipping. The one
exception is the GPU: CI machines have none, so ``gpu`` tests skip there with
a message saying so.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def running_in_ci() -> bool:
    """True when the CI runner started us (``CI=true``)."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(available: bool, what: str) -> None:
    """Skip (developer machine) or fail (CI) when a real part the test needs is absent."""
    if available:
        return
    if running_in_ci():
        pytest.fail(f"{what} is required in CI but is not available")
    pytest.skip(f"{what} is not available on this machine")


def find_aitex_dir() -> Path | None:
    """Locate ../shared/datasets/aitex, or the folder named by CRAS_AITEX_DIR."""
    candidates = []
    if os.environ.get("CRAS_AITEX_DIR"):
        candidates.append(Path(os.environ["CRAS_AITEX_DIR"]))
    candidates.append(REPO_ROOT.parent / "shared" / "datasets" / "aitex")
    for candidate in candidates:
        if (candidate / "NODefect_images").is_dir() and (candidate / "Defect_images").is_dir():
            return candidate
    return None


@pytest.fixture(scope="session")
def aitex_dir() -> Path:
    """The real AITEX fabric data (read-only; never copied into the repository)."""
    found = find_aitex_dir()
    require(found is not None, "the AITEX data set (../shared/datasets/aitex or CRAS_AITEX_DIR)")
    assert found is not None
    return found


@pytest.fixture(autouse=True)
def _no_log_handler_outlives_its_test():
    """Drop the stderr handlers that ``station.cli.main`` installed during a test.

    ``configure_logging`` binds a handler to the ``sys.stderr`` of the moment,
    which inside a test is pytest's capture stream. Left on the root logger it
    would outlive that stream, and the next test that logs before calling
    ``main`` would get "--- Logging error --- ... I/O operation on closed file"
    in its stderr. pytest's own capture handlers are subclasses and are kept.
    """
    yield
    root = logging.getLogger()
    for handler in list(root.handlers):
        if type(handler) is logging.StreamHandler:  # exactly what configure_logging adds
            root.removeHandler(handler)


def cuda_available() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:  # pragma: no cover - torch missing is a broken install
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``gpu`` tests, with a reason, where there is no CUDA device."""
    if cuda_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs an NVIDIA GPU; this machine has none")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


POSTGRES_URL = os.environ.get(
    "CRAS_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test"
)


def postgres_reachable(url: str) -> bool:
    try:
        import sqlalchemy

        engine = sqlalchemy.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("select 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """SQLAlchemy URL of the real PostgreSQL server (database ``test``)."""
    require(postgres_reachable(POSTGRES_URL), f"PostgreSQL at {POSTGRES_URL}")
    return POSTGRES_URL


# Reduced training budget for CI (the default `station train` runs 16 epochs).
AITEX_CI_EPOCHS = 4


@pytest.fixture(scope="session")
def aitex_model_dir(aitex_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One multi-class model for the four AITEX fabrics, trained by `station train`.

    Trained once per test session (a few minutes on 2 cores) and shared by the
    training test and the pipeline's end-to-end test.
    """
    from station.cli import main

    out = tmp_path_factory.mktemp("aitex-model") / "model"
    status = main(
        [
            "train",
            "--data",
            str(aitex_dir),
            "--layout",
            "aitex",
            "--epochs",
            str(AITEX_CI_EPOCHS),
            "--out",
            str(out),
        ]
    )
    assert status == 0, "station train failed on the AITEX data"
    return out

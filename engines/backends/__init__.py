"""Inference backends behind one interface (see :mod:`engines.backends.base`).

``open_backend(model_dir_or_artefact, kind="auto")`` picks and opens one
(:mod:`engines.backends.factory`); it is imported lazily, so that importing a
single backend module pulls in nothing else.
"""

from typing import Any

from engines.backends.base import BackendInfo, BackendInputError, InferenceBackend, InferenceResult

__all__ = [
    "BACKEND_KINDS",
    "BackendInfo",
    "BackendInputError",
    "InferenceBackend",
    "InferenceResult",
    "open_backend",
]


def __getattr__(name: str) -> Any:
    if name in ("open_backend", "BACKEND_KINDS"):
        from engines.backends import factory

        return getattr(factory, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

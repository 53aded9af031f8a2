"""Imports every domain's models so that the metadata (and Alembic) sees the whole schema."""

from __future__ import annotations

import importlib

__all__ = ["load_all_models", "MODEL_MODULES"]

MODEL_MODULES = (
    "app.participants.models",
    "app.regimes.models",
    "app.log.models",
    "app.documents.models",
    "app.feed.models",
    "app.reports.models",
)


def load_all_models() -> None:
    for name in MODEL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not name.startswith(exc.name):
                raise

"""Every table of the gateway: the core models and each channel's own model module.

Channels keep their tables in modules of their own (`models_<channel>.py`, on the same `Base`) so
that they can grow independently; this module imports them all, so migrations and the check that
models and migrations agree see the whole schema.
"""
from __future__ import annotations

import importlib
import pkgutil

import gateway.store as _store
from gateway.store.models import Base

for _module in pkgutil.iter_modules(_store.__path__):
    if _module.name.startswith("models_"):
        importlib.import_module(f"gateway.store.{_module.name}")

metadata = Base.metadata

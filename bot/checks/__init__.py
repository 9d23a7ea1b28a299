"""Pure checks over named evidence. Importing this package registers every check module."""

from __future__ import annotations

import importlib
import pkgutil

from bot.checks.registry import REGISTRY, CheckSpec, check

_SUPPORT = {"registry", "azure"}


def load_all() -> dict[str, CheckSpec]:
    """Import every check module in this package so its decorators register."""
    for info in pkgutil.iter_modules(__path__):
        if info.name not in _SUPPORT and not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    return REGISTRY


__all__ = ["REGISTRY", "CheckSpec", "check", "load_all"]

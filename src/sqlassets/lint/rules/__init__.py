"""Every lint rule, one module each, registered by code."""

from __future__ import annotations

import importlib
import pkgutil

from sqlassets.lint.rule import Rule


def _discover() -> tuple[Rule, ...]:
    rules = []
    for module in pkgutil.iter_modules(__path__):
        rules.append(importlib.import_module(f"{__name__}.{module.name}").RULE)
    return tuple(sorted(rules, key=lambda rule: rule.code))


RULES: tuple[Rule, ...] = _discover()
"""All rules, sorted by code."""

"""Every lint rule, registered by code.

A module holds one rule (``RULE``), with its logic, or a group of rules
(``RULES``): :mod:`~sqlassets.lint.rules.load_errors` documents the problems
found while the project loads. A rule whose problem is found while loading
names the function that finds it (:attr:`~sqlassets.lint.rule.Rule.implemented_by`).
"""

from __future__ import annotations

import importlib
import pkgutil

from sqlassets.lint.rule import Rule


def _discover() -> tuple[Rule, ...]:
    rules: list[Rule] = []
    for module in pkgutil.iter_modules(__path__):
        loaded = importlib.import_module(f"{__name__}.{module.name}")
        rules.extend(loaded.RULES if hasattr(loaded, "RULES") else (loaded.RULE,))
    return tuple(sorted(rules, key=lambda rule: rule.code))


RULES: tuple[Rule, ...] = _discover()
"""All rules, sorted by code."""

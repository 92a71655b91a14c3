"""What a lint rule is, and the helpers rules share."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from sqlassets.codes import Code
from sqlassets.errors import Diagnostic, Severity
from sqlassets.loader import Model, first_parameter_uses
from sqlassets.project import Project

__all__ = ["Check", "Rule", "first_parameter_uses", "found_at_load", "load_rule", "per_model"]

Check = Callable[[Project], Iterable[Diagnostic]]


@dataclass(frozen=True)
class Rule:
    """A lint rule: a stable code, its documentation, its check and its severity.

    ``doc`` explains the problem with an *Anti-pattern* and its *Fix*. Every
    finding of the rule gets the rule's ``severity``.

    Some problems are found while the project loads, because a model that has
    them has no spec to look at later: a header, graph or configuration error.
    Such a rule re-reports those findings (:func:`found_at_load`), and
    ``implemented_by`` names the functions that find them, as dotted paths the
    documentation repeats.
    """

    code: Code
    doc: str
    check: Check
    severity: Severity = Severity.ERROR
    implemented_by: tuple[str, ...] = ()


def found_at_load(code: Code) -> Check:
    """A check that re-reports the problems with ``code`` found while loading the project."""

    def check(project: Project) -> Iterator[Diagnostic]:
        return (d for d in project.diagnostics if d.code == code)

    return check


def load_rule(code: Code, doc: str, *implemented_by: str) -> Rule:
    """The rule for a problem found while loading, by the functions ``implemented_by``."""
    return Rule(code, doc, found_at_load(code), implemented_by=implemented_by)


def per_model(function: Callable[[Model], Iterable[Diagnostic]]) -> Check:
    """A check that looks at each valid model with a query on its own."""

    def check(project: Project) -> Iterator[Diagnostic]:
        for model in project.models.values():
            if model.analysis is not None:
                yield from function(model)

    return check

"""What a lint rule is, and the helpers rules share."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from sqlassets.codes import Code
from sqlassets.errors import Diagnostic, Location, Severity
from sqlassets.loader import Model, token_location, tokens
from sqlassets.project import Project

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


def parameter_tokens(model: Model) -> Iterator[tuple[str, Location]]:
    """``(parameter name, location)`` for each ``@name`` in the body, in order."""
    stream = tokens(model.sql)
    for index, token in enumerate(stream[:-1]):
        following = stream[index + 1]
        previous = stream[index - 1] if index else None
        if token.text != "@" or following.text == "@":
            continue
        if previous is not None and previous.text == "@" and previous.end + 1 == token.start:
            continue  # the second @ of @@system_variable
        yield following.text, token_location(token, model.path, model.body_line)


def first_parameter_uses(
    model: Model, names: frozenset[str] | set[str]
) -> Iterator[tuple[str, Location]]:
    """The first ``@name`` of each of ``names`` in the body, in order, with its location."""
    seen: set[str] = set()
    for name, location in parameter_tokens(model):
        if name in names and name not in seen:
            seen.add(name)
            yield name, location

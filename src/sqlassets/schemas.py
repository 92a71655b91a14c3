"""The column types each model's table had when it was last materialized, per engine.

Output column names are known offline (the loader reads them from the query);
their types only from the warehouse. A run records what it learnt (the table's
columns after each model), so that definitions built later show the types in
Dagster before the next materialization, instead of "unknown".

One small JSON file per model, ``<cache dir>/schemas/<engine>/<dataset>.<table>.json``,
written atomically (a temporary file, then ``os.replace``): concurrent runs never
leave a half-written file, and the last writer wins. Like the analysis cache it
is safe to delete, turned off by ``$SQLASSETS_NO_CACHE``, and never fails a
load or a run: an unreadable or foreign file is ignored.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from sqlassets.cache import cache_root
from sqlassets.config import Config

log = logging.getLogger(__name__)

_FOLDER = "schemas"


class KnownSchemas:
    """The recorded column types of one engine's tables (``root`` None: off)."""

    def __init__(self, root: Path | None, engine: str):
        self.directory = root / _FOLDER / engine if root is not None else None

    @classmethod
    def for_project(cls, config: Config, engine: str) -> KnownSchemas:
        """The records of a project, in its analysis cache folder (see :mod:`sqlassets.cache`)."""
        return cls(cache_root(config.root, config.cache_dir), engine)

    def _path(self, model: str) -> Path | None:
        if self.directory is None or "/" in model or model.startswith("."):
            return None
        return self.directory / f"{model}.json"

    def get(self, model: str) -> dict[str, str]:
        """``{column: type}`` recorded for ``model`` (``dataset.table``); empty if none."""
        path = self._path(model)
        if path is None:
            return {}
        try:
            found = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(found, list):
            return {}
        return {
            name: kind
            for name, kind in (item for item in found if isinstance(item, list) and len(item) == 2)
            if isinstance(name, str) and isinstance(kind, str)
        }

    def get_all(self, models: Iterable[str]) -> dict[str, dict[str, str]]:
        """:meth:`get` of each of ``models`` that has a record."""
        if self.directory is None or not self.directory.is_dir():
            return {}
        found = {model: self.get(model) for model in models}
        return {model: types for model, types in found.items() if types}

    def put(self, model: str, columns: Sequence[tuple[str, str]]) -> None:
        """Record ``columns`` (name, type) of ``model``'s table; never raises."""
        path = self._path(model)
        if path is None or not columns:
            return
        text = json.dumps([[name, kind] for name, kind in columns])
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(text, encoding="utf-8")
            temporary.replace(path)
        except OSError as error:
            log.debug("not recording the columns of %s: %s", model, error)
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)


def column_types(
    recorded: Mapping[str, str], columns: Sequence[str] | None
) -> list[tuple[str, str]]:
    """Each of ``columns`` with its recorded type (case-insensitively), else ``unknown``."""
    lowered = {name.lower(): kind for name, kind in recorded.items()}
    return [(column, lowered.get(column.lower(), "unknown")) for column in columns or ()]

"""``SqlAssetsComponent``: the project as a Dagster component, configured from ``defs.yaml``.

In a ``dg`` project (``src/<package>/defs/<name>/defs.yaml``)::

    dg scaffold defs sqlassets.SqlAssetsComponent warehouse [--target prod]

writes

```yaml
type: sqlassets.SqlAssetsComponent
attributes:
  target: prod              # default: $SQLASSETS_TARGET or the configured one
  # project_dir: ../../../..  # default: the nearest folder up with [tool.sqlassets] or sql/
```

and creates the project's SQL folder if it is missing.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import BaseModel, Field

from sqlassets.config import find_project_dir, load_config
from sqlassets.dagster.definitions import project_definitions
from sqlassets.errors import ConfigError

STARTER_MODEL = """\
-- A starter model: one file per table, in a folder per dataset (see the README).
-- @materialized: view
SELECT 1 AS id, 'hello' AS greeting
"""


class ScaffoldParams(BaseModel):
    """What ``dg scaffold defs sqlassets.SqlAssetsComponent NAME`` takes."""

    project_dir: str | None = Field(
        default=None,
        description="The sqlassets project folder, relative to the new defs.yaml "
        "(default: the nearest folder up with [tool.sqlassets] or sql/, else the dg project).",
    )
    target: str | None = Field(default=None, description="The target to build assets for.")


class SqlAssetsScaffolder(dg.Scaffolder[ScaffoldParams]):
    """Writes ``defs.yaml`` with the given attributes; creates a missing SQL folder."""

    @classmethod
    def get_scaffold_params(cls) -> type[ScaffoldParams]:
        """``--project-dir`` and ``--target``."""
        return ScaffoldParams

    def scaffold(self, request: dg.ScaffoldRequest[ScaffoldParams]) -> None:
        """Write the component's ``defs.yaml`` and make sure the project has a SQL folder."""
        params = request.params
        attributes = {
            name: value
            for name, value in (("project_dir", params.project_dir), ("target", params.target))
            if value is not None
        }
        dg.scaffold_component(request, attributes)
        root = _project_dir(request.target_path, params.project_dir, request.project_root)
        sql_dir = load_config(root).sql_dir
        if not sql_dir.exists():
            starter = sql_dir / "example" / "hello.sql"
            starter.parent.mkdir(parents=True)
            starter.write_text(STARTER_MODEL, encoding="utf-8")


def _project_dir(here: Path, project_dir: str | None, fallback: Path | None = None) -> Path:
    """``project_dir`` relative to ``here``; else the nearest sqlassets project up."""
    if project_dir is not None:
        return (here / project_dir).resolve()
    try:
        return find_project_dir(here)
    except ConfigError:
        if fallback is None:
            raise
        return fallback


@dg.scaffold_with(SqlAssetsScaffolder)
class SqlAssetsComponent(dg.Component, dg.Model, dg.Resolvable):
    """A sqlassets project: one asset per SQL file, with checks, partitions and schedules."""

    project_dir: str | None = None
    """The project folder, relative to this ``defs.yaml``; default: the nearest one up."""
    target: str | None = None

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        """Load the project next to (or above) the ``defs.yaml`` that declares this component."""
        return project_definitions(
            _project_dir(context.path, self.project_dir, context.project_root),
            target=self.target,
        )

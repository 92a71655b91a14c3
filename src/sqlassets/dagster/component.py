"""``SqlAssetsComponent``: the project as a Dagster component, configured from ``defs.yaml``.

```yaml
type: sqlassets.SqlAssetsComponent
attributes:
  project_dir: ../..        # relative to this defs.yaml; default: its folder
  target: prod              # default: $SQLASSETS_TARGET or the configured one
```
"""

from __future__ import annotations

import dagster as dg

from sqlassets.dagster.definitions import build_definitions


class SqlAssetsComponent(dg.Component, dg.Model, dg.Resolvable):
    """A sqlassets project: one asset per SQL file, with checks, partitions and schedules."""

    project_dir: str = "."
    target: str | None = None

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        """Load the project next to the ``defs.yaml`` that declares this component."""
        return build_definitions(context.path / self.project_dir, target=self.target)

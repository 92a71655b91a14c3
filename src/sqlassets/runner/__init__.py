"""The runner: the only code that combines strategies and an engine.

- :mod:`.plan`: a model and a window to jobs (physical names, split windows),
  and the dry runs of ``sqlassets plan``;
- :mod:`.schema`: an existing table against the header and the query;
- :mod:`.run`: a model's jobs, then its checks, with progress events.

The names below are imported on first use (PEP 562): `sqlassets lint` reads
:mod:`.landing` and :mod:`.limits` and must not pay for the engines and
strategies the rest needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlassets.runner.plan import (
        DryRun,
        PlannedStatement,
        dry_run,
        model_jobs,
        physical_tables,
        piece_jobs,
        render_jobs,
        resolve_window,
        split_window,
        table_partitions,
    )
    from sqlassets.runner.run import (
        CheckEvaluated,
        CheckOutcome,
        CheckVerdict,
        Event,
        ModelFailed,
        ModelMaterialized,
        ModelRun,
        ModelStarted,
        OnEvent,
        Status,
        Summary,
        located,
        materialize,
        run_checks,
        run_model,
    )
    from sqlassets.runner.schema import (
        SchemaDiff,
        changed_layout,
        schema_diff,
    )

_MODULES = {
    "DryRun": "plan",
    "PlannedStatement": "plan",
    "dry_run": "plan",
    "model_jobs": "plan",
    "physical_tables": "plan",
    "piece_jobs": "plan",
    "render_jobs": "plan",
    "resolve_window": "plan",
    "split_window": "plan",
    "table_partitions": "plan",
    "CheckEvaluated": "run",
    "CheckOutcome": "run",
    "CheckVerdict": "run",
    "Event": "run",
    "ModelFailed": "run",
    "ModelMaterialized": "run",
    "ModelRun": "run",
    "ModelStarted": "run",
    "OnEvent": "run",
    "Status": "run",
    "Summary": "run",
    "located": "run",
    "materialize": "run",
    "run_checks": "run",
    "run_model": "run",
    "SchemaDiff": "schema",
    "changed_layout": "schema",
    "schema_diff": "schema",
}
"""Each exported name, by the module of this package that defines it."""

__all__ = [
    "CheckEvaluated",
    "CheckOutcome",
    "CheckVerdict",
    "DryRun",
    "Event",
    "ModelFailed",
    "ModelMaterialized",
    "ModelRun",
    "ModelStarted",
    "OnEvent",
    "PlannedStatement",
    "SchemaDiff",
    "Status",
    "Summary",
    "changed_layout",
    "dry_run",
    "located",
    "materialize",
    "model_jobs",
    "physical_tables",
    "piece_jobs",
    "render_jobs",
    "resolve_window",
    "run_checks",
    "run_model",
    "schema_diff",
    "split_window",
    "table_partitions",
]


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value

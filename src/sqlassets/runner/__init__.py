"""The runner: the only code that combines strategies and an engine.

- :mod:`.plan`: a model and a window to jobs (physical names, split windows),
  and the dry runs of ``sqlassets plan``;
- :mod:`.schema`: an existing table against the header and the query;
- :mod:`.run`: a model's jobs, then its checks, with progress events.
"""

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
from sqlassets.runner.schema import SchemaDiff, changed_layout, schema_diff

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

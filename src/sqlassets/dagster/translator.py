"""From model specs to Dagster ``AssetSpec``s, one small overridable hook per property.

Subclass :class:`SqlAssetsTranslator` and override a ``get_*`` method to change
naming, grouping, tags or metadata, as with dagster-dbt's translator.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import cache
from typing import Any

import dagster as dg

from sqlassets.loader import Model, tokens
from sqlassets.schemas import column_types
from sqlassets.spec import Cadence, Materialized, StaticPartitions, TableRef, TimePartitions
from sqlassets.window import KEY_FORMATS

_CRON = {
    Cadence.HOURLY: "0 * * * *",
    Cadence.DAILY: "0 0 * * *",
    Cadence.MONTHLY: "0 0 1 * *",
}


@cache
def time_partitions_def(partitions: TimePartitions) -> dg.TimeWindowPartitionsDefinition:
    """The Dagster partitions of time partitions (weekly ones start on @start's weekday)."""
    if partitions.cadence is Cadence.WEEKLY:
        # cron weekday: 0 is Sunday; Python's weekday(): 0 is Monday.
        cron = f"0 0 * * {(partitions.start.weekday() + 1) % 7}"
    else:
        cron = _CRON[partitions.cadence]
    return dg.TimeWindowPartitionsDefinition(
        cron_schedule=cron,
        start=partitions.start,
        end=partitions.end,
        fmt=KEY_FORMATS[partitions.cadence],
        timezone="UTC",
    )


@cache
def static_partitions_def(partitions: StaticPartitions) -> dg.StaticPartitionsDefinition:
    """The Dagster partitions of static keys."""
    return dg.StaticPartitionsDefinition(list(partitions.keys))


def op_name(key: dg.AssetKey) -> str:
    """The name of the op (and the step-key prefix) of the asset ``key``: ``dataset__table``."""
    return "__".join(key.path).replace("-", "_")


class SqlAssetsTranslator:
    """Translates a model into the parts of its Dagster asset."""

    def __init__(
        self, engine: str = "duckdb", known_types: Mapping[str, Mapping[str, str]] | None = None
    ):
        self.engine = engine
        self.known_types: Mapping[str, Mapping[str, str]] = known_types or {}
        """``{model: {column: type}}`` recorded by earlier runs (``build_definitions`` fills it)."""

    def get_asset_key(self, model: Model) -> dg.AssetKey:
        """``["dataset", "table"]``."""
        return dg.AssetKey([model.spec.name.dataset, model.spec.name.table])

    def get_source_key(self, ref: TableRef) -> dg.AssetKey:
        """The key of an external source (a table that is not a model).

        A wildcard table's ``*`` becomes ``_wildcard`` (Dagster names allow
        letters, digits and ``_``): ``ga.events_*`` is ``["ga", "events__wildcard"]``.
        """
        parts = [ref.project] if ref.project else []
        return dg.AssetKey([*parts, ref.dataset, ref.table.replace("*", "_wildcard")])

    def get_group_name(self, model: Model) -> str:
        """``@group``, else the dataset."""
        return model.spec.group_name

    def get_description(self, model: Model) -> str | None:
        """The header's prose."""
        return model.spec.description or None

    def get_owners(self, model: Model) -> list[str]:
        """``@owners``."""
        return list(model.spec.owners)

    def get_tags(self, model: Model) -> dict[str, str]:
        """``@tags`` (a bare key becomes an empty value)."""
        return dict(model.spec.tags)

    def get_kinds(self, model: Model) -> set[str]:
        """The engine and ``sql``."""
        return {self.engine, "sql"}

    def get_code_version(self, model: Model) -> str:
        """A hash of the header's settings and the SQL's tokens (comments and spacing ignored)."""
        settings = model.spec.model_dump_json(exclude={"description", "path", "checks"})
        checks = [check.model_dump_json(exclude={"location"}) for check in model.spec.checks]
        body = model.analysis.token_hash if model.analysis else None
        if body is None:
            body = " ".join(token.text for token in tokens(model.sql))
        return hashlib.sha256("\n".join([settings, *checks, body]).encode()).hexdigest()[:16]

    def get_partitions_def(self, model: Model) -> dg.PartitionsDefinition | None:
        """Time-window or static partitions from ``@partitions``/``@start``/``@end``."""
        partitions = model.spec.partitions
        if isinstance(partitions, TimePartitions):
            return time_partitions_def(partitions)
        if isinstance(partitions, StaticPartitions):
            return static_partitions_def(partitions)
        return None

    def get_passes_through(self, model: Model) -> bool:
        """Whether a model reading ``model`` reads ``model``'s upstream models when it runs.

        True for views: a view stores a query, not rows. A model reading a view
        then also depends, in Dagster, on every model it reads through the view
        (and through views over views), so a Dagster backfill of a partitioned
        load and a mart reading it through an unpartitioned view reaches the
        mart, and the load runs first. A ``table`` does not pass through: it is
        rebuilt whole from what it read when it ran, not when its readers run.
        """
        return model.spec.materialized is Materialized.VIEW

    def get_backfill_policy(self, model: Model) -> dg.BackfillPolicy | None:
        """``single_run`` (one statement for a whole range) or ``multi_run(N)``."""
        if model.spec.partitions is None:
            return None
        if model.spec.backfill.max_partitions is None:
            return dg.BackfillPolicy.single_run()
        return dg.BackfillPolicy.multi_run(
            max_partitions_per_run=model.spec.backfill.max_partitions
        )

    def get_automation_condition(self, model: Model) -> dg.AutomationCondition[Any] | None:
        """None: models run from schedules and explicit runs."""
        return None

    def get_metadata(
        self,
        model: Model,
        table_name: str,
        lineage: Mapping[str, list[dg.TableColumnDep]],
    ) -> dict[str, Any]:
        """Table name, columns, column lineage and where the model comes from."""
        metadata: dict[str, Any] = {
            "dagster/table_name": table_name,
            "sqlassets/path": dg.MetadataValue.path(model.path),
            "sqlassets/materialized": model.spec.materialized.value,
        }
        columns = self.get_column_types(model)
        if columns:
            metadata["dagster/column_schema"] = dg.TableSchema(
                columns=[dg.TableColumn(name=name, type=kind) for name, kind in columns]
            )
        metadata["sqlassets/sql"] = dg.MetadataValue.md(f"```sql\n{model.sql.strip()}\n```")
        if lineage:
            metadata["dagster/column_lineage"] = dg.TableColumnLineage(deps_by_column=dict(lineage))
        if model.spec.partition_by is not None:
            metadata["sqlassets/partition_by"] = str(model.spec.partition_by)
        return metadata

    def get_column_types(self, model: Model) -> list[tuple[str, str]]:
        """The output columns with the types an earlier run recorded (else ``unknown``).

        A ``SELECT *`` model, whose columns are not known offline, shows the recorded ones.
        """
        recorded = self.known_types.get(model.name, {})
        columns = model.analysis.output_columns if model.analysis else None
        if not columns:
            return list(recorded.items())
        return column_types(recorded, columns)

    def get_asset_spec(
        self,
        model: Model,
        deps: list[dg.AssetKey | dg.AssetDep],
        table_name: str,
        lineage: Mapping[str, list[dg.TableColumnDep]],
    ) -> dg.AssetSpec:
        """The whole spec; override the ``get_*`` hooks rather than this."""
        return dg.AssetSpec(
            key=self.get_asset_key(model),
            deps=deps,
            description=self.get_description(model),
            metadata=self.get_metadata(model, table_name, lineage),
            group_name=self.get_group_name(model),
            code_version=self.get_code_version(model),
            owners=self.get_owners(model),
            tags=self.get_tags(model),
            kinds=self.get_kinds(model),
            partitions_def=self.get_partitions_def(model),
            automation_condition=self.get_automation_condition(model),
        )

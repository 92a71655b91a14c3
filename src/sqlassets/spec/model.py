"""The model spec: everything a model file's header declares, validated."""

from __future__ import annotations

from pydantic import Field, model_validator

from sqlassets.errors import Location
from sqlassets.spec.invariants import invariant_problems
from sqlassets.spec.types import (
    MAX_CLUSTER_COLUMNS,
    Backfill,
    CheckSpec,
    Frozen,
    Materialization,
    Materialized,
    PartitionBy,
    Partitions,
    StaticPartitions,
    TableMaterialization,
    TableRef,
    TimePartitions,
)
from sqlassets.values import Freshness


class ModelSpec(Frozen):
    """Everything a model's header declares, validated."""

    name: TableRef
    path: str
    description: str = ""
    materialization: Materialization = Field(default_factory=TableMaterialization)
    partition_by: PartitionBy | None = None
    cluster_by: tuple[str, ...] = Field(default=(), max_length=MAX_CLUSTER_COLUMNS)
    partitions: Partitions | None = None
    backfill: Backfill = Field(default_factory=Backfill)
    schedule: str | None = None
    depends_on: tuple[TableRef, ...] = ()
    checks: tuple[CheckSpec, ...] = ()
    maximum_bytes_billed: int | None = Field(default=None, gt=0)
    labels: tuple[tuple[str, str], ...] = ()
    owners: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    group: str | None = None
    freshness: Freshness | None = None
    """``@freshness``: how stale the table may get before its freshness check fails."""
    locations: dict[str, Location] = Field(default_factory=dict, exclude=True, repr=False)
    """Where each directive was written, by key (first occurrence)."""

    @model_validator(mode="after")
    def _invariants(self) -> ModelSpec:
        problems = invariant_problems(self.__dict__)
        if problems:
            raise ValueError("; ".join(problem.message for problem in problems))
        return self

    @property
    def materialized(self) -> Materialized:
        """The materialization kind."""
        return Materialized(self.materialization.kind)

    @property
    def time_partitions(self) -> TimePartitions | None:
        """The time partitions, if the model has them."""
        return self.partitions if isinstance(self.partitions, TimePartitions) else None

    @property
    def static_partitions(self) -> StaticPartitions | None:
        """The static partitions, if the model has them."""
        return self.partitions if isinstance(self.partitions, StaticPartitions) else None

    @property
    def group_name(self) -> str:
        """The Dagster group: ``@group`` or the dataset."""
        return self.group or self.name.dataset

    def location_of(self, key: str) -> Location:
        """Where directive ``key`` was written, else the top of the file."""
        return self.locations.get(key) or Location(self.path, 1, 1)

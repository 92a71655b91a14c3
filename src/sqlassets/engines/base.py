"""What every engine adapter provides, and the records it returns."""

from __future__ import annotations

import abc
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from sqlglot import expressions as exp

from sqlassets.errors import EngineError
from sqlassets.job import Job, Naming
from sqlassets.window import QueryParameter

if TYPE_CHECKING:
    from sqlassets.config import Config, Target
    from sqlassets.spec import ModelSpec

LOCKED = "locked"
"""The ``reason`` of the :class:`EngineError` :meth:`Engine.open` raises for a held warehouse."""

NOT_FOUND = "notFound"
"""The ``reason`` of the :class:`EngineError` for a table or dataset that does not exist."""


class ConstructError(EngineError):
    """A construct of the query that the engine cannot run, refused before anything is sent.

    ``marker`` is the sequence of BigQuery tokens (upper case) that starts the
    construct in a model's body: the runner locates the refusal with it.
    """

    def __init__(self, message: str, marker: tuple[str, ...]):
        super().__init__(message)
        self.marker = marker


Layout = tuple[str | None, tuple[str, ...]]
"""``(partitioning, clustering)`` of a table, in the engine's own notation."""


@dataclass(frozen=True)
class Capabilities:
    """What differs between engines, as data the runner, the CLI and Dagster read."""

    query_parameters: bool
    """Binds ``@name`` parameters (otherwise typed literals are substituted)."""
    dry_run_bytes: bool
    """A dry run reports the bytes a statement would process."""
    partitioning: bool
    """Tables keep ``PARTITION BY``/``CLUSTER BY``: runs compare an existing table's layout."""
    max_partitions_per_job: int | None = None
    """Partitions one job may modify (BigQuery: 4,000); longer windows are split."""
    max_uris_per_job: int | None = None
    """Source URIs one load may read (BigQuery: 10,000); longer load windows are split."""
    partition_load_jobs: bool = False
    """A load of exactly one table partition is a load job into it (``t$20240102``, free)."""
    load_layout: bool = False
    """``LOAD DATA`` carries ``PARTITION BY``/``CLUSTER BY``; loads of several partitions
    go through a staging table the runner drops after."""
    drop_before_layout_change: bool = False
    """``CREATE OR REPLACE`` cannot change a table's layout: a full refresh drops it first."""
    single_writer_process: bool = False
    """One process at a time may write the database: Dagster runs its steps in process."""
    table_pools: bool = False
    """Concurrent runs may write one table: Dagster queues them in a pool per table."""
    job_history: bool = False
    """The warehouse keeps a history of jobs with their cost (:meth:`Engine.job_costs`)."""


@dataclass(frozen=True)
class JobContext:
    """Who runs a job and under which limits; becomes labels and the job id."""

    asset: str
    run_id: str = field(default_factory=lambda: f"manual-{uuid.uuid4().hex}")
    """Dagster's run id; outside Dagster a fresh id, so each invocation runs anew."""
    step: str = ""
    """Distinguishes jobs of one asset run (default: the job's action, e.g. ``merge``)."""
    window: str = "all"
    attempt: int = 1
    labels: Mapping[str, str] = field(default_factory=dict)
    maximum_bytes_billed: int | None = None
    timeout_s: float | None = None


@dataclass(frozen=True)
class JobResult:
    """What a finished job reports: never rows, only statistics."""

    job_id: str
    action: str
    sql: str
    duration_s: float
    rows_affected: int | None = None
    """Rows the warehouse says the job affected (on BigQuery a MERGE's inserts and deletes)."""
    rows_inserted: int | None = None
    """Rows inserted, where the warehouse tells them apart (None: not known)."""
    rows_deleted: int | None = None
    """Rows deleted, where the warehouse tells them apart (None: not known)."""
    bytes_processed: int | None = None
    bytes_billed: int | None = None
    slot_ms: int | None = None
    url: str | None = None
    attached: bool = False
    """True when an identical job was already submitted and this one attached to it."""


@dataclass(frozen=True)
class TableStats:
    """What the warehouse's metadata says of one table, read without scanning it.

    A field is None where the engine keeps no such figure (DuckDB has no
    modification time, and estimates rows).
    """

    table: str
    """``dataset.table`` as the warehouse names it (physical, without project)."""
    kind: str = "table"
    """``table``, ``view`` or ``external``."""
    row_count: int | None = None
    logical_bytes: int | None = None
    physical_bytes: int | None = None
    partitions: int | None = None
    last_modified: datetime | None = None
    """UTC."""


@dataclass(frozen=True)
class JobCost:
    """The cost of one asset's jobs on one day, from the warehouse's job history."""

    asset: str
    """The model the jobs ran for (the label value itself when no given model has it)."""
    day: date
    jobs: int
    bytes_billed: int
    slot_ms: int


@dataclass(frozen=True)
class DryRunResult:
    """What a statement would do: bytes on BigQuery, the plan on DuckDB."""

    sql: str
    bytes_processed: int | None = None
    plan: str | None = None


@dataclass(frozen=True)
class Preview:
    """Rows of a table read for a person to look at: at most the limit asked for."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    source: str
    """How the rows were read (``storage read API``, ``query``), for the output's footer."""


class Engine(abc.ABC):
    """One warehouse: renders jobs in its dialect, runs them, reports statistics."""

    name: ClassVar[str]
    """The ``engine`` of the targets this adapter runs (its key in ``ENGINES``)."""
    dialect: ClassVar[str]
    resource_key: ClassVar[str]
    """The Dagster resource an asset body receives to open this engine."""
    capabilities: ClassVar[Capabilities]
    naming: Naming

    @classmethod
    @abc.abstractmethod
    def from_target(
        cls, target: Target, config: Config | None = None, client: Any = None
    ) -> Engine:
        """The engine of a configured target; connects lazily.

        ``config`` resolves the target's relative paths; ``client`` is an open
        connection to reuse (a Dagster resource's), where the engine takes one.
        """

    @classmethod
    def naming_for(cls, target: Target) -> Naming:
        """The physical names of ``target``'s tables (without opening an engine)."""
        return Naming()

    @classmethod
    def concurrent_jobs(cls, target: Target) -> int:
        """How many jobs one process may run on ``target`` at once (one per writer process)."""
        return 1 if cls.capabilities.single_writer_process else 8

    @abc.abstractmethod
    def render(self, job: Job) -> str:
        """The exact SQL this engine sends for ``job``."""

    @abc.abstractmethod
    def execute(self, job: Job, context: JobContext) -> JobResult:
        """Run ``job`` to completion (atomically) and return its statistics."""

    @abc.abstractmethod
    def dry_run(self, job: Job) -> list[DryRunResult]:
        """What each statement of ``job`` would process, without running it."""

    @abc.abstractmethod
    def table_columns(self, table: exp.Table) -> list[tuple[str, str]] | None:
        """``(name, type)`` of each column of ``table``, or None if it does not exist."""

    @abc.abstractmethod
    def query_schema(
        self,
        query: exp.Expression,
        parameters: Sequence[QueryParameter],
        preamble: Sequence[exp.Expression] = (),
    ) -> list[tuple[str, str]]:
        """``(name, type)`` of the output columns of ``query``, without running it.

        ``preamble`` holds the ``CREATE TEMP FUNCTION`` statements the query calls.
        """

    def query_columns(
        self,
        query: exp.Expression,
        parameters: Sequence[QueryParameter],
        preamble: Sequence[exp.Expression] = (),
    ) -> list[str]:
        """The output column names of ``query`` (after ``preamble``), without running it."""
        return [name for name, _ in self.query_schema(query, parameters, preamble)]

    def query_bytes(
        self,
        query: exp.Expression,
        parameters: Sequence[QueryParameter],
        preamble: Sequence[exp.Expression] = (),
    ) -> int | None:
        """Bytes ``query`` (after ``preamble``) would process, from a dry run; None if not reported.

        A table it reads that does not exist raises :class:`EngineError` with
        ``reason`` :data:`NOT_FOUND`.
        """
        return None

    def query_schema_and_bytes(
        self,
        query: exp.Expression,
        parameters: Sequence[QueryParameter],
        preamble: Sequence[exp.Expression] = (),
    ) -> tuple[list[tuple[str, str]], int | None]:
        """:meth:`query_schema` and :meth:`query_bytes` together (one dry run on BigQuery)."""
        return (
            self.query_schema(query, parameters, preamble),
            self.query_bytes(query, parameters, preamble),
        )

    def table_layout(self, table: exp.Table) -> Layout | None:
        """The layout of an existing table; None when unknown or missing.

        Engines without partitioning (DuckDB) have no layout to compare.
        """
        return None

    def expected_layout(self, spec: ModelSpec) -> Layout | None:
        """The layout :meth:`table_layout` reports for a table built from ``spec``."""
        return None

    @abc.abstractmethod
    def table_stats(self, tables: Sequence[exp.Table]) -> dict[str, TableStats]:
        """Metadata of ``tables`` (physical names), by ``dataset.table``; missing ones left out.

        One metadata query per dataset, batched; no query reads a table's rows.
        """

    def job_costs(self, since: datetime, assets: Sequence[str]) -> list[JobCost]:
        """Bytes billed and slot ms per asset and day of sqlassets' jobs created since ``since``.

        ``assets`` are the model names to recognise in the jobs' labels. Only
        for engines with :attr:`Capabilities.job_history`.
        """
        raise EngineError(f"{self.name} keeps no job history to report costs from")

    @abc.abstractmethod
    def fetch_row(
        self, query: exp.Expression, parameters: Sequence[QueryParameter], context: JobContext
    ) -> dict[str, Any]:
        """Run a query that returns exactly one row (a check) and return that row."""

    @abc.abstractmethod
    def preview_rows(
        self,
        table: exp.Table,
        columns: Sequence[str],
        condition: exp.Expression | None,
        limit: int,
    ) -> Preview:
        """Up to ``limit`` rows of ``table`` (``columns``, all when empty) where ``condition``.

        ``condition`` is a BigQuery-dialect boolean with literal values; no
        query job is billed where the engine can avoid it (BigQuery reads
        through the Storage Read API). A missing table is an :class:`EngineError`.
        """

    @abc.abstractmethod
    def query_rows(self, job: Job, context: JobContext, limit: int) -> Preview:
        """Run ``job`` (a query ending in ``LIMIT``, after its temp functions); its rows."""

    def cancel_all(self) -> None:  # noqa: B027 - engines without remote jobs have nothing to do
        """Cancel every job this engine started that is still running."""

    def open(self, wait_s: float = 0.0) -> None:  # noqa: B027 - remote engines connect per job
        """Claim the warehouse now, before any work; raise :class:`EngineError` if it is taken.

        An embedded engine whose file another process holds waits up to
        ``wait_s`` seconds for it, then refuses, naming the holder (the
        error's ``reason`` is :data:`LOCKED`).
        """

    @classmethod  # noqa: B027 - remote jobs are cancelled by cancel_all
    def interrupt_all(cls) -> None:
        """Stop the statements every engine of this class is running, and refuse new ones.

        Called from a signal watcher (any thread) while the main thread may be
        blocked inside the engine; the interrupted job rolls back.
        """

    @classmethod  # noqa: B027
    def resume_all(cls) -> None:
        """Accept statements again after :meth:`interrupt_all`."""

    def close(self) -> None:  # noqa: B027
        """Release connections."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

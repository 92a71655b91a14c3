"""Frozen, validated model specs built from a file's header directives.

:func:`build_spec` turns :class:`~sqlassets.header.Header` directives into a
:class:`ModelSpec`, reporting every problem as a located diagnostic. The
package reads top-down:

- :mod:`~sqlassets.spec.types`: the frozen value types, the
  :data:`Materialization` and :data:`CheckSpec` unions;
- :mod:`~sqlassets.spec.invariants`: the rules tying fields and directives
  together, one named function each (the model re-checks the field rules, so
  a spec built in code is held to the same rules as one built from a file);
- :mod:`~sqlassets.spec.model`: :class:`ModelSpec`;
- :mod:`~sqlassets.spec.directives`: one value parser per header key and the
  :data:`DIRECTIVES` registry; :mod:`~sqlassets.spec.checks`: the ``@check``
  language; :mod:`~sqlassets.spec.conditions`: boolean SQL in a header
  (check expressions, ``@merge_filter``);
- :mod:`~sqlassets.spec.build`: :func:`build_spec`.
"""

from __future__ import annotations

from sqlassets.spec.build import build_spec, name_from_path
from sqlassets.spec.conditions import TARGET_ALIAS, merge_filter_columns, merge_filter_parameters
from sqlassets.spec.directives import DIRECTIVES, REPEATABLE, RESERVED_LABELS, parse_table_name
from sqlassets.spec.invariants import Problem, invariant_problems
from sqlassets.spec.model import ModelSpec
from sqlassets.spec.types import (
    CHECK_KINDS,
    LOADED_PARTITION,
    MAX_CLUSTER_COLUMNS,
    AcceptedValuesCheck,
    Backfill,
    Cadence,
    CheckSpec,
    ExpressionCheck,
    FileFormat,
    FileSensor,
    Granularity,
    InsertOverwriteMaterialization,
    LoadMaterialization,
    LoadMode,
    Materialization,
    Materialized,
    MergeMaterialization,
    NotNullCheck,
    OnSchemaChange,
    PartitionBy,
    Partitions,
    RowCountCheck,
    StaticPartitions,
    TableMaterialization,
    TableRef,
    TimePartitions,
    UniqueCheck,
    UriTemplate,
    ViewMaterialization,
    check_columns,
)
from sqlassets.values import IDENTIFIER, PROJECT_ID, parse_bytes

__all__ = [
    "CHECK_KINDS",
    "DIRECTIVES",
    "IDENTIFIER",
    "LOADED_PARTITION",
    "MAX_CLUSTER_COLUMNS",
    "PROJECT_ID",
    "REPEATABLE",
    "RESERVED_LABELS",
    "TARGET_ALIAS",
    "AcceptedValuesCheck",
    "Backfill",
    "Cadence",
    "CheckSpec",
    "ExpressionCheck",
    "FileFormat",
    "FileSensor",
    "Granularity",
    "InsertOverwriteMaterialization",
    "LoadMaterialization",
    "LoadMode",
    "Materialization",
    "Materialized",
    "MergeMaterialization",
    "ModelSpec",
    "NotNullCheck",
    "OnSchemaChange",
    "PartitionBy",
    "Partitions",
    "Problem",
    "RowCountCheck",
    "StaticPartitions",
    "TableMaterialization",
    "TableRef",
    "TimePartitions",
    "UniqueCheck",
    "UriTemplate",
    "ViewMaterialization",
    "build_spec",
    "check_columns",
    "invariant_problems",
    "merge_filter_columns",
    "merge_filter_parameters",
    "name_from_path",
    "parse_bytes",
    "parse_table_name",
]

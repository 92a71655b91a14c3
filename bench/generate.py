"""Generate a synthetic sqlassets project of N realistic BigQuery models.

The generated project is the corpus of the lint benchmark (``lint_bench.py``),
and can be used by anyone who needs a large, valid project: every file is a
model that ``sqlassets lint`` should accept.

Each model is 29-86 lines: a comment header with several directives
(materialization, partitions, clustering, schedule, owners, tags, labels,
checks) and a ``WITH … SELECT`` body with CTEs, joins, window functions,
``QUALIFY``, ``UNNEST``, ``STRUCT``, date functions, ``CASE`` and aggregates.
Models form a DAG: model *i* reads 1-4 models generated before it (plus,
sometimes, an external ``raw.*`` table), so there is no cycle by construction.

Every model outputs the same core columns (``record_id``, ``customer_id``,
``event_date``, ``event_ts``, ``region``, ``status``, ``amount``,
``quantity``), so any model can read any earlier one, and its partition,
cluster, unique-key and check columns are always among its outputs.
Time-partitioned models read ``@start_date``/``@end_date`` (or
``@start_ts``/``@end_ts``), static-partitioned ones ``@partition_key``, and
unpartitioned ones no parameter at all.

Usage::

    python bench/generate.py DEST --models 1000 [--seed 0]
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass, field
from pathlib import Path

MIN_LINES = 29
MAX_LINES = 86

LAYERS = ("staging", "intermediate", "core", "mart")
"""Dataset layers, in DAG order: early models are staging, late ones marts."""

DOMAINS = (
    "sales",
    "finance",
    "marketing",
    "ops",
    "product",
    "growth",
    "support",
    "logistics",
    "billing",
    "catalog",
)

ENTITIES = (
    "orders",
    "payments",
    "refunds",
    "shipments",
    "sessions",
    "customers",
    "invoices",
    "subscriptions",
    "returns",
    "reviews",
    "carts",
    "campaigns",
    "tickets",
    "inventory",
)

QUALIFIERS = ("daily", "enriched", "latest", "rollup", "summary", "clean", "history", "facts")

REGIONS = ("emea", "amer", "apac")

STATUSES = ("pending", "completed", "shipped", "refunded", "cancelled", "unknown")


@dataclass(frozen=True)
class RawSource:
    """An external table under ``raw``: a nested array column for ``UNNEST``."""

    name: str
    id_column: str
    ts_column: str
    array_column: str
    """An ``ARRAY<STRUCT<…>>`` column; its struct holds ``line_number``, ``qty`` and ``price``."""


RAW_SOURCES = (
    RawSource("orders", "order_id", "created_at", "items"),
    RawSource("payments", "payment_id", "paid_at", "allocations"),
    RawSource("shipments", "shipment_id", "shipped_at", "parcels"),
    RawSource("web_events", "event_id", "event_ts", "products"),
    RawSource("subscriptions", "subscription_id", "updated_at", "lines"),
    RawSource("refunds", "refund_id", "refunded_at", "items"),
)

CORE_COLUMNS = (
    "record_id",
    "customer_id",
    "event_date",
    "event_ts",
    "region",
    "status",
    "amount",
    "quantity",
)
"""Columns every generated model outputs, so any model can read any earlier one."""

ROW_EXTRAS = (
    "ROUND(amount * 1.2, 2) AS amount_gross",
    "CASE WHEN amount >= 100 THEN 'high' WHEN amount >= 10 THEN 'medium' ELSE 'low' END "
    "AS amount_band",
    "DATE_DIFF(event_date, DATE '2024-01-01', DAY) AS days_since_launch",
    "FORMAT_DATE('%Y-%m', event_date) AS year_month",
    "EXTRACT(HOUR FROM event_ts) AS event_hour",
    "DATE_TRUNC(event_date, WEEK) AS event_week",
    "TIMESTAMP_TRUNC(event_ts, HOUR) AS event_hour_ts",
    "COALESCE(status, 'unknown') AS status_or_unknown",
    "UPPER(region) AS region_code",
    "SAFE_DIVIDE(amount, NULLIF(quantity, 0)) AS unit_amount",
    "LAG(amount) OVER (PARTITION BY customer_id ORDER BY event_ts) AS previous_amount",
    "LEAD(event_ts) OVER (PARTITION BY customer_id ORDER BY event_ts) AS next_event_ts",
    "SUM(amount) OVER (PARTITION BY customer_id ORDER BY event_ts "
    "ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) AS rolling_amount",
    "STRUCT(amount AS value, quantity AS units) AS measures",
    "REGEXP_CONTAINS(status, r'^(completed|shipped)$') AS is_fulfilled",
    "LENGTH(record_id) AS record_id_length",
    "DATE_ADD(event_date, INTERVAL 7 DAY) AS follow_up_date",
    "IF(quantity > 0, amount / quantity, NULL) AS average_price",
    "COUNT(*) OVER (PARTITION BY customer_id) AS customer_rows",
    "DENSE_RANK() OVER (PARTITION BY region ORDER BY amount DESC) AS region_rank",
    "CAST(event_ts AS STRING) AS event_ts_text",
    "EXTRACT(MONTH FROM event_date) AS event_month_number",
    "CONCAT(region, '/', COALESCE(status, 'none')) AS region_status",
    "ABS(amount) AS absolute_amount",
    "LOWER(TRIM(customer_id)) AS customer_key",
    "LAST_DAY(event_date, MONTH) AS month_end",
)

AGGREGATE_EXTRAS = (
    "AVG(amount) AS average_amount",
    "MAX(amount) AS max_amount",
    "MIN(amount) AS min_amount",
    "COUNTIF(status = 'completed') AS completed_rows",
    "COUNT(DISTINCT record_id) AS distinct_records",
    "SUM(IF(quantity > 0, quantity, 0)) AS positive_quantity",
    "SAFE_DIVIDE(SUM(amount), NULLIF(SUM(quantity), 0)) AS amount_per_unit",
    "APPROX_COUNT_DISTINCT(record_id) AS approx_records",
    "LOGICAL_OR(status = 'refunded') AS has_refund",
    "ARRAY_AGG(DISTINCT status IGNORE NULLS) AS statuses",
    "MIN(event_ts) AS first_event_ts",
    "TIMESTAMP_DIFF(MAX(event_ts), MIN(event_ts), MINUTE) AS active_minutes",
    "SUM(CASE WHEN region = 'emea' THEN amount ELSE 0 END) AS emea_amount",
    "SUM(CASE WHEN region = 'amer' THEN amount ELSE 0 END) AS amer_amount",
    "STDDEV(amount) AS amount_stddev",
    "COUNT(*) AS source_rows",
    "COUNTIF(amount >= 100) AS large_rows",
    "MAX(EXTRACT(HOUR FROM event_ts)) AS last_hour",
    "STRUCT(MIN(amount) AS low, MAX(amount) AS high) AS amount_range",
    "SUM(amount) / NULLIF(COUNT(DISTINCT record_id), 0) AS amount_per_record",
    "LOGICAL_AND(amount >= 0) AS all_non_negative",
    "STRING_AGG(DISTINCT region, ',') AS regions",
)


@dataclass(frozen=True)
class ModelRef:
    """A generated model: its dataset and table."""

    dataset: str
    table: str

    @property
    def name(self) -> str:
        """``dataset.table``."""
        return f"{self.dataset}.{self.table}"


@dataclass
class Shape:
    """What a model is, decided before its SQL is written."""

    ref: ModelRef
    materialized: str
    partitions: str | None
    """``daily``, ``hourly``, ``monthly``, ``static`` or None."""
    aggregate: bool
    upstream: list[ModelRef]
    raw: RawSource | None
    raw_is_base: bool
    ranked: bool
    domain: str
    entity: str
    header_seed: float = 0.0
    """Seeds the header's random choices, so re-rendering gives the same header."""
    depends_on: ModelRef | None = None
    extras: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- window filters


def _window(alias: str, partitions: str | None, raw_ts: str | None = None) -> str | None:
    """The WHERE condition that restricts ``alias`` to the run's time window, if any.

    ``raw_ts`` names the timestamp column of a raw table; models are filtered on
    their ``event_date``/``event_ts`` columns.
    """
    if partitions in ("daily", "monthly"):
        day = f"DATE({alias}.{raw_ts})" if raw_ts else f"{alias}.event_date"
        return f"{day} >= @start_date AND {day} < @end_date"
    if partitions == "hourly":
        ts = f"{alias}.{raw_ts or 'event_ts'}"
        return f"{ts} >= @start_ts AND {ts} < @end_ts"
    return None


def _region_expr(alias: str) -> str:
    return (
        f"CASE WHEN {alias}.country IN ('DE', 'FR', 'GB', 'NL') THEN 'emea' "
        f"WHEN {alias}.country IN ('US', 'CA', 'BR') THEN 'amer' ELSE 'apac' END"
    )


# ---------------------------------------------------------------- CTEs


def _base_model_cte(shape: Shape, alias: str, ref: ModelRef) -> list[str]:
    conditions = []
    window = _window("t", shape.partitions)
    if window:
        conditions.append(window)
    if shape.partitions == "static":
        conditions.append("t.region = @partition_key")
    conditions.append("t.status != 'deleted'")
    return [
        f"{alias} AS (",
        "  SELECT",
        "    t.record_id,",
        "    t.customer_id,",
        "    t.event_date,",
        "    t.event_ts,",
        "    t.region,",
        "    LOWER(TRIM(t.status)) AS status,",
        "    SAFE_CAST(t.amount AS NUMERIC) AS amount,",
        "    COALESCE(t.quantity, 0) AS quantity",
        f"  FROM {ref.name} AS t",
        f"  WHERE {conditions[0]}",
        *(f"    AND {condition}" for condition in conditions[1:]),
        "),",
    ]


def _base_raw_cte(shape: Shape, alias: str, raw: RawSource) -> list[str]:
    conditions = []
    window = _window("r", shape.partitions, raw.ts_column)
    if window:
        conditions.append(window)
    if shape.partitions == "static":
        conditions.append(f"{_region_expr('r')} = @partition_key")
    conditions.append(f"r.{raw.id_column} IS NOT NULL")
    return [
        f"{alias} AS (",
        "  SELECT",
        f"    CONCAT(r.{raw.id_column}, '-', CAST(line.line_number AS STRING)) AS record_id,",
        "    r.customer_id,",
        f"    DATE(r.{raw.ts_column}) AS event_date,",
        f"    r.{raw.ts_column} AS event_ts,",
        f"    {_region_expr('r')} AS region,",
        "    LOWER(TRIM(r.status)) AS status,",
        "    SAFE_CAST(line.price AS NUMERIC) * line.qty AS amount,",
        "    line.qty AS quantity",
        f"  FROM raw.{raw.name} AS r",
        f"  CROSS JOIN UNNEST(r.{raw.array_column}) AS line",
        f"  WHERE {conditions[0]}",
        *(f"    AND {condition}" for condition in conditions[1:]),
        "),",
    ]


def _side_cte(shape: Shape, alias: str, source: str, raw_ts: str | None = None) -> list[str]:
    """An upstream aggregated to one row per customer and day, to join to the base."""
    is_raw = raw_ts is not None
    conditions = []
    window = _window("x", shape.partitions, raw_ts)
    if window:
        conditions.append(window)
    if shape.partitions == "static":
        conditions.append(
            f"{_region_expr('x')} = @partition_key" if is_raw else "x.region = @partition_key"
        )
    if is_raw:
        date_expr = f"DATE(x.{raw_ts})"
        amount = "SUM(SAFE_CAST(x.total AS NUMERIC))"
    else:
        date_expr = "x.event_date"
        amount = "SUM(x.amount)"
    lines = [
        f"{alias} AS (",
        f"  SELECT x.customer_id, {date_expr} AS event_date,",
        f"    {amount} AS {alias}_amount, COUNT(*) AS {alias}_rows",
        f"  FROM {source} AS x",
    ]
    if conditions:
        lines.append(f"  WHERE {conditions[0]}")
        lines.extend(f"    AND {condition}" for condition in conditions[1:])
    lines += [f"  GROUP BY x.customer_id, {date_expr}", "),"]
    return lines


def _combined_cte(base: str, sides: list[str]) -> list[str]:
    lines = [
        "combined AS (",
        "  SELECT",
        "    b.record_id,",
        "    b.customer_id,",
        "    b.event_date,",
        "    b.event_ts,",
        "    b.region,",
        "    b.status,",
        "    b.amount,",
        "    b.quantity" + ("," if sides else ""),
    ]
    for index, side in enumerate(sides):
        comma = "," if index < len(sides) - 1 else ""
        lines.append(f"    COALESCE({side}.{side}_amount, 0) AS {side}_amount{comma}")
    lines.append(f"  FROM {base} AS b")
    for side in sides:
        lines.append(
            f"  LEFT JOIN {side} ON {side}.customer_id = b.customer_id "
            f"AND {side}.event_date = b.event_date"
        )
    lines.append("),")
    return lines


def _ranked_cte(sides: list[str]) -> list[str]:
    amount = " + ".join(["c.amount", *(f"c.{side}_amount" for side in sides[:2])])
    return [
        "ranked AS (",
        "  SELECT",
        "    c.record_id,",
        "    c.customer_id,",
        "    c.event_date,",
        "    c.event_ts,",
        "    c.region,",
        "    c.status,",
        "    c.quantity,",
        *(f"    c.{side}_amount," for side in sides),
        f"    {amount} AS amount,",
        "    ROW_NUMBER() OVER (PARTITION BY c.record_id ORDER BY c.event_ts DESC) AS row_rank",
        "  FROM combined AS c",
        "),",
    ]


# ---------------------------------------------------------------- final SELECT


def _final(shape: Shape, source: str, sides: list[str]) -> list[str]:
    """The final SELECT: the core columns, the upstream measures and the extras."""
    if shape.aggregate:
        if shape.partitions == "hourly":
            hour = "TIMESTAMP_TRUNC(event_ts, HOUR)"
            columns = [
                f"CONCAT(customer_id, ':', FORMAT_TIMESTAMP('%Y%m%d%H', {hour})) AS record_id",
                "customer_id",
                "MIN(event_date) AS event_date",
                f"{hour} AS event_ts",
            ]
            group = f"GROUP BY customer_id, {hour}"
        else:
            columns = [
                "CONCAT(customer_id, ':', CAST(event_date AS STRING)) AS record_id",
                "customer_id",
                "event_date",
                "MAX(event_ts) AS event_ts",
            ]
            group = "GROUP BY customer_id, event_date"
        columns += [
            "ANY_VALUE(region) AS region",
            "MAX(status) AS status",
            "SUM(amount) AS amount",
            "SUM(quantity) AS quantity",
            *(f"SUM({side}_amount) AS {side}_amount" for side in sides),
            *shape.extras,
        ]
        tail = ["WHERE row_rank = 1"] if source == "ranked" else []
        tail.append(group)
    else:
        columns = [*CORE_COLUMNS, *(f"{side}_amount" for side in sides), *shape.extras]
        if source == "ranked":
            tail = ["WHERE row_rank = 1"]
        else:
            tail = ["QUALIFY ROW_NUMBER() OVER (PARTITION BY record_id ORDER BY event_ts DESC) = 1"]
    lines = ["SELECT"]
    lines += [f"  {column}," for column in columns[:-1]] + [f"  {columns[-1]}"]
    lines.append(f"FROM {source}")
    return lines + tail


# ---------------------------------------------------------------- header


def _header(shape: Shape, rng: random.Random) -> list[str]:
    entity, domain = shape.entity.replace("_", " "), shape.domain
    grain = "customer and day" if shape.aggregate else "record"
    if shape.aggregate and shape.partitions == "hourly":
        grain = "customer and hour"
    lines = [f"-- {entity.capitalize()} for the {domain} team, one row per {grain}."]
    if rng.random() < 0.6:
        lines.append(
            f"-- Built from {len(shape.upstream)} upstream model(s); owned by {domain} analytics."
        )
    lines.append(f"-- @materialized: {shape.materialized}")
    if shape.materialized == "merge":
        lines.append("-- @unique_key: record_id")
    if shape.partitions in ("daily", "monthly", "hourly"):
        partition_by = {
            "daily": rng.choice(("event_date", "DATE(event_ts)")),
            "monthly": "DATE_TRUNC(event_date, MONTH)",
            "hourly": "TIMESTAMP_TRUNC(event_ts, HOUR)",
        }[shape.partitions]
        start = "2024-01-01 00:00" if shape.partitions == "hourly" else "2024-01-01"
        lines += [
            f"-- @partition_by: {partition_by}",
            f"-- @partitions: {shape.partitions}",
            f"-- @start: {start}",
        ]
        if shape.partitions == "hourly":
            # Bounded: open-ended hourly tables pass BigQuery's 10,000 partitions (SA204).
            lines.append("-- @end: 2025-01-01 00:00")
        if rng.random() < 0.3:
            lines.append(f"-- @backfill: max_partitions={rng.choice((7, 30, 90))}")
    elif shape.partitions == "static":
        lines += [
            "-- @partition_by: event_date",
            f"-- @partitions: values({', '.join(REGIONS)})",
        ]
    if shape.materialized != "view":
        cluster = rng.sample(["customer_id", "region", "status"], rng.randint(1, 2))
        lines.append(f"-- @cluster_by: {', '.join(cluster)}")
        if rng.random() < 0.6:
            lines.append(f"-- @schedule: {rng.randint(0, 59)} {rng.randint(0, 23)} * * *")
    if shape.depends_on is not None:
        lines.append(f"-- @depends_on: {shape.depends_on.name}")
    owner = rng.choice((f"team:{domain}", f"{domain}-data@example.com"))
    lines.append(f"-- @owners: {owner}")
    lines.append(f"-- @tags: domain={domain}, layer={shape.ref.dataset.split('_')[0]}")
    if rng.random() < 0.5:
        lines.append(f"-- @labels: team={domain}, cost_center=cc-{rng.randint(100, 999)}")
    if rng.random() < 0.3:
        lines.append(f"-- @maximum_bytes_billed: {rng.choice((10, 50, 200))}GB")
    checks = [
        "not_null(record_id, customer_id, event_date)",
        "unique(record_id)",
        f"accepted_values(region, [{', '.join(repr(r) for r in (*REGIONS, 'unknown'))}])",
        "expression(quantity >= 0)",
        "warn row_count(min=1)",
    ]
    for check in rng.sample(checks, rng.randint(1, 4)):
        lines.append(f"-- @check: {check}")
    return lines


# ---------------------------------------------------------------- assembling a model


def _body(shape: Shape) -> list[str]:
    lines = ["WITH"]
    sides: list[str] = []
    base = "base"
    if shape.raw is not None and shape.raw_is_base:
        lines += _base_raw_cte(shape, base, shape.raw)
        side_refs = shape.upstream
    else:
        lines += _base_model_cte(shape, base, shape.upstream[0])
        side_refs = shape.upstream[1:]
    for index, ref in enumerate(side_refs):
        alias = f"side_{index + 1}"
        lines += _side_cte(shape, alias, ref.name)
        sides.append(alias)
    if shape.raw is not None and not shape.raw_is_base:
        alias = f"raw_{shape.raw.name}"
        lines += _side_cte(shape, alias, f"raw.{shape.raw.name}", shape.raw.ts_column)
        sides.append(alias)
    source = base
    if sides or shape.ranked:
        lines += _combined_cte(base, sides)
        source = "combined"
    if shape.ranked:
        lines += _ranked_cte(sides)
        source = "ranked"
    lines[-1] = lines[-1].rstrip(",")
    lines += _final(shape, source, sides)
    return lines


def _render(shape: Shape) -> str:
    header = _header(shape, random.Random(shape.header_seed))
    return "\n".join(header + _body(shape)) + "\n"


def _choose_upstream(rng: random.Random, models: list[ModelRef], count: int) -> list[ModelRef]:
    """Pick ``count`` distinct earlier models, favouring recent ones (deeper DAGs)."""
    chosen: list[ModelRef] = []
    attempts = 0
    while len(chosen) < count and attempts < 50:
        attempts += 1
        if rng.random() < 0.7:
            window = min(len(models), 60)
            candidate = models[len(models) - 1 - int(rng.random() * window)]
        else:
            candidate = rng.choice(models)
        if candidate not in chosen:
            chosen.append(candidate)
    return chosen


def _model_name(index: int, n_models: int, rng: random.Random) -> tuple[ModelRef, str, str]:
    layer = LAYERS[min(len(LAYERS) - 1, index * len(LAYERS) // max(n_models, 1))]
    domain = rng.choice(DOMAINS)
    entity = rng.choice(ENTITIES)
    prefix = {"staging": "stg", "intermediate": "int", "core": "fct", "mart": "rpt"}[layer]
    table = f"{prefix}_{entity}_{rng.choice(QUALIFIERS)}_{index:05d}"
    return ModelRef(f"{layer}_{domain}", table), domain, entity


def _plan(index: int, n_models: int, models: list[ModelRef], rng: random.Random) -> Shape:
    ref, domain, entity = _model_name(index, n_models, rng)
    roll = rng.random()
    if roll < 0.15:
        materialized, partitions = "view", None
    elif roll < 0.40:
        materialized, partitions = "table", None
    elif roll < 0.55:
        materialized, partitions = "merge", None
    elif roll < 0.62:
        materialized, partitions = "merge", "static"
    else:
        materialized = "insert_overwrite"
        partitions = rng.choices(("daily", "hourly", "monthly"), weights=(7, 1, 2))[0]
    count = min(len(models), rng.choices((1, 2, 3, 4), weights=(3, 4, 3, 2))[0])
    upstream = _choose_upstream(rng, models, count) if models else []
    raw: RawSource | None = None
    raw_is_base = False
    if not upstream:
        raw, raw_is_base = rng.choice(RAW_SOURCES), True
    elif rng.random() < 0.3:
        raw = rng.choice(RAW_SOURCES)
        raw_is_base = rng.random() < 0.5
    shape = Shape(
        ref=ref,
        materialized=materialized,
        partitions=partitions,
        aggregate=rng.random() < 0.45,
        upstream=upstream,
        raw=raw,
        raw_is_base=raw_is_base,
        ranked=rng.random() < 0.5,
        domain=domain,
        entity=entity,
        header_seed=rng.random(),
    )
    if models and rng.random() < 0.03:
        candidate = rng.choice(models)
        if candidate not in upstream:
            shape.depends_on = candidate
    return shape


def _fit(shape: Shape, rng: random.Random, target: int) -> str:
    """Render ``shape`` at about ``target`` lines, within [MIN_LINES, MAX_LINES]."""
    text = _render(shape)
    goal = max(MIN_LINES, min(target, MAX_LINES))
    # Too long: drop optional pieces to approach the target, and upstream reads
    # only if the model would exceed MAX_LINES.
    while text.count("\n") > goal:
        if shape.ranked:
            shape.ranked = False
        elif shape.raw is not None and not shape.raw_is_base:
            shape.raw = None
        elif len(shape.upstream) > 1 and text.count("\n") > MAX_LINES:
            shape.upstream.pop()
        else:
            break
        text = _render(shape)
    # Too short: add derived columns until it reaches the target.
    pool = list(AGGREGATE_EXTRAS if shape.aggregate else ROW_EXTRAS)
    rng.shuffle(pool)
    while text.count("\n") < goal and pool:
        shape.extras.append(pool.pop())
        text = _render(shape)
    return text


def generate_project(dest: Path, n_models: int, seed: int = 0) -> list[Path]:
    """Write a project of ``n_models`` models under ``dest``; return the SQL files written.

    ``dest`` gets a ``pyproject.toml`` with ``[tool.sqlassets] sql_dir = "sql"``
    and ``sql/<dataset>/<table>.sql`` files. The same ``seed`` and
    ``n_models`` always give the same files, byte for byte.
    """
    rng = random.Random(seed)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "pyproject.toml").write_text(
        '[project]\nname = "generated-warehouse"\nversion = "0.0.0"\n\n'
        '[tool.sqlassets]\nsql_dir = "sql"\n'
    )
    models: list[ModelRef] = []
    written: list[Path] = []
    for index in range(n_models):
        shape = _plan(index, n_models, models, rng)
        text = _fit(shape, rng, rng.randint(MIN_LINES, MAX_LINES))
        path = dest / "sql" / shape.ref.dataset / f"{shape.ref.table}.sql"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
        models.append(shape.ref)
    return written


def layered_parents(layers: int, width: int, seed: int = 0) -> list[list[list[int]]]:
    """Upstream of each model of a layered DAG: model *j* of layer *k* reads 1-2 of layer *k-1*.

    ``result[k][j]`` are indices into layer ``k - 1`` (empty for layer 0). Every
    model of a layer below the top is read by some model of the next layer, so
    each layer waits on the whole previous one.
    """
    rng = random.Random(seed)
    parents: list[list[list[int]]] = [[[] for _ in range(width)]]
    for _ in range(1, layers):
        layer = [sorted({j, rng.randrange(width)}) for j in range(width)]
        rng.shuffle(layer)
        parents.append(layer)
    return parents


def layered_model_name(layer: int, index: int) -> str:
    """``l<layer>.m<index>``: the dataset is the layer."""
    return f"l{layer}.m{index:03d}"


def generate_layered_project(
    dest: Path, layers: int, width: int, seed: int = 0, pyproject: str = ""
) -> list[Path]:
    """Write ``layers`` x ``width`` tiny ``table`` models (see :func:`layered_parents`).

    Layer 0 builds 20 rows from ``GENERATE_ARRAY``; every later model joins its
    1-2 upstream models on ``id``. ``pyproject`` is the ``pyproject.toml`` text
    (a target, typically). Returns the SQL files written.
    """
    written: list[Path] = []
    (dest / "sql").mkdir(parents=True, exist_ok=True)
    (dest / "pyproject.toml").write_text(pyproject)
    for layer, ups in enumerate(layered_parents(layers, width, seed)):
        for index, upstream in enumerate(ups):
            if not upstream:
                body = (
                    f"SELECT n AS id, n * {index + 1} AS value\n"
                    "FROM UNNEST(GENERATE_ARRAY(1, 20)) AS n"
                )
            else:
                first, *rest = upstream
                body = (
                    f"SELECT a.id, a.value + {index} AS value\n"
                    f"FROM {layered_model_name(layer - 1, first)} AS a"
                )
                for k, other in enumerate(rest):
                    body += f"\nJOIN {layered_model_name(layer - 1, other)} AS b{k} USING (id)"
            dataset, table = layered_model_name(layer, index).split(".")
            path = dest / "sql" / dataset / f"{table}.sql"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"-- @materialized: table\n{body}\n")
            written.append(path)
    return written


# ---------------------------------------------------------------- large queries

LARGE_MIN_LINES = 200
LARGE_MAX_LINES = 400

_TEMP_FUNCTIONS = (
    "CREATE TEMP FUNCTION clean_text(value STRING) AS (NULLIF(LOWER(TRIM(value)), ''));",
    "CREATE TEMP FUNCTION param_value(params ANY TYPE, wanted STRING) AS (\n"
    "  (SELECT AS STRUCT p.value.string_value AS text, p.value.int_value AS number\n"
    "   FROM UNNEST(params) AS p WHERE p.key = wanted LIMIT 1)\n"
    ");",
    "CREATE TEMP FUNCTION bucket(amount FLOAT64) RETURNS STRING AS (\n"
    "  CASE WHEN amount >= 1000 THEN 'xl' WHEN amount >= 100 THEN 'l'\n"
    "       WHEN amount >= 10 THEN 'm' ELSE 's' END\n"
    ");",
)


def _large_event_cte(name: str, source: str, window: str | None, rng: random.Random) -> list[str]:
    """Events of a GA-like export: UNNEST of a struct array, struct fields, temp functions."""
    param = rng.choice(("page_location", "campaign", "source", "medium", "term"))
    lines = [
        f"{name} AS (",
        "  SELECT",
        "    e.user_pseudo_id AS customer_id,",
        "    CONCAT(e.user_pseudo_id, '-', CAST(e.event_timestamp AS STRING)) AS record_id,",
        "    DATE(TIMESTAMP_MICROS(e.event_timestamp)) AS event_date,",
        "    TIMESTAMP_MICROS(e.event_timestamp) AS event_ts,",
        "    clean_text(e.geo.country) AS country,",
        "    e.device.category AS device_category,",
        "    e.traffic_source.source AS traffic_source,",
        f"    param_value(e.event_params, '{param}').text AS {param},",
        "    param_value(e.event_params, 'ga_session_id').number AS session_id,",
        "    STRUCT(e.geo.city AS city, e.geo.region AS region) AS place,",
        "    ARRAY(SELECT AS STRUCT i.item_id, i.price, i.quantity",
        "          FROM UNNEST(e.items) AS i WHERE i.price IS NOT NULL) AS items,",
        "    (SELECT SUM(i.price * i.quantity) FROM UNNEST(e.items) AS i) AS amount,",
        "    (SELECT COUNT(*) FROM UNNEST(e.items)) AS quantity",
        f"  FROM {source} AS e",
    ]
    conditions = [f"e.event_name IN ('purchase', 'add_to_cart', '{param}_view')"]
    if window:
        conditions.insert(0, window.replace("{}", "DATE(TIMESTAMP_MICROS(e.event_timestamp))"))
    lines.append(f"  WHERE {conditions[0]}")
    lines += [f"    AND {condition}" for condition in conditions[1:]]
    lines.append("),")
    return lines


def _large_item_cte(name: str, previous: str, rng: random.Random) -> list[str]:
    """One row per item: UNNEST of an array of structs, window functions over them."""
    order = rng.choice(("event_ts", "amount", "record_id"))
    return [
        f"{name} AS (",
        "  SELECT",
        "    p.customer_id,",
        "    p.record_id,",
        "    p.event_date,",
        "    p.event_ts,",
        "    item.item_id,",
        "    item.price * item.quantity AS line_amount,",
        f"    ROW_NUMBER() OVER (PARTITION BY p.customer_id ORDER BY p.{order} DESC) AS position,",
        "    SUM(item.price * item.quantity) OVER (",
        "      PARTITION BY p.customer_id ORDER BY p.event_ts",
        "      ROWS BETWEEN 6 PRECEDING AND CURRENT ROW",
        "    ) AS rolling_amount,",
        "    LAG(p.event_ts) OVER (PARTITION BY p.customer_id ORDER BY p.event_ts) AS previous_ts,",
        "    FIRST_VALUE(item.item_id) OVER (",
        "      PARTITION BY p.customer_id ORDER BY item.price DESC",
        "      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING",
        "    ) AS top_item",
        f"  FROM {previous} AS p",
        "  CROSS JOIN UNNEST(p.items) AS item WITH OFFSET AS item_offset",
        "  WHERE item_offset < 50",
        "),",
    ]


def _large_rollup_cte(name: str, previous: str, rng: random.Random) -> list[str]:
    """Per customer and day: aggregates into structs and arrays."""
    limit = rng.choice((3, 5, 10))
    return [
        f"{name} AS (",
        "  SELECT",
        "    customer_id,",
        "    event_date,",
        "    MIN(record_id) AS record_id,",
        "    MAX(event_ts) AS event_ts,",
        "    COUNT(DISTINCT item_id) AS distinct_items,",
        "    SUM(line_amount) AS amount,",
        "    COUNT(*) AS quantity,",
        "    bucket(SUM(line_amount)) AS amount_bucket,",
        "    STRUCT(",
        "      MIN(line_amount) AS low,",
        "      MAX(line_amount) AS high,",
        "      APPROX_QUANTILES(line_amount, 4)[OFFSET(2)] AS median",
        "    ) AS amount_range,",
        f"    ARRAY_AGG(STRUCT(item_id, line_amount) ORDER BY line_amount DESC LIMIT {limit})"
        " AS top_lines,",
        "    COUNTIF(rolling_amount > 100) AS heavy_lines,",
        "    LOGICAL_OR(position = 1) AS has_first,",
        "    TIMESTAMP_DIFF(MAX(event_ts), MIN(previous_ts), MINUTE) AS active_minutes",
        f"  FROM {previous}",
        "  GROUP BY customer_id, event_date",
        "),",
    ]


def _large_join_cte(name: str, previous: str, upstream: str, window: str | None) -> list[str]:
    """The rollup joined to an upstream model, deduplicated with QUALIFY."""
    lines = [
        f"{name} AS (",
        "  SELECT",
        "    r.customer_id,",
        "    r.event_date,",
        "    r.record_id,",
        "    r.event_ts,",
        "    r.amount + COALESCE(u.amount, 0) AS amount,",
        "    r.quantity + COALESCE(u.quantity, 0) AS quantity,",
        "    r.amount_range,",
        "    r.top_lines,",
        "    CASE",
        "      WHEN u.customer_id IS NULL THEN 'new'",
        "      WHEN r.amount > u.amount THEN 'growing'",
        "      WHEN r.amount = u.amount THEN 'flat'",
        "      ELSE 'shrinking'",
        "    END AS trend,",
        "    DENSE_RANK() OVER (PARTITION BY r.event_date ORDER BY r.amount DESC) AS day_rank",
        f"  FROM {previous} AS r",
        f"  LEFT JOIN {upstream} AS u",
        "    ON u.customer_id = r.customer_id",
        "    AND u.event_date = DATE_SUB(r.event_date, INTERVAL 1 DAY)",
    ]
    if window:
        lines.append(
            "    AND "
            + window.replace("{}", "u.event_date").replace(
                "@start_date", "DATE_SUB(@start_date, INTERVAL 1 DAY)"
            )
        )
    lines += [
        "  QUALIFY ROW_NUMBER() OVER (PARTITION BY r.customer_id, r.event_date"
        " ORDER BY r.event_ts DESC) = 1",
        "),",
    ]
    return lines


def _large_model(
    index: int, models: list[ModelRef], rng: random.Random, target: int
) -> tuple[ModelRef, str]:
    """One model of ``target`` lines or a little more (see :func:`generate_large_project`)."""
    ref = ModelRef(f"large_{rng.choice(DOMAINS)}", f"q_{rng.choice(ENTITIES)}_{index:05d}")
    materialized = rng.choice(("table", "merge", "insert_overwrite", "insert_overwrite"))
    header = [
        f"-- Large query {index}: GA-like events of the {ref.dataset[6:]} team, rolled up.",
        f"-- @materialized: {materialized}",
    ]
    window = None
    if materialized == "merge":
        header.append("-- @unique_key: record_id")
    if materialized == "insert_overwrite":
        header += ["-- @partition_by: event_date", "-- @partitions: daily", "-- @start: 2024-01-01"]
        window = "{} >= @start_date AND {} < @end_date"
    header += [
        "-- @cluster_by: customer_id",
        f"-- @owners: team:{ref.dataset[6:]}",
        "-- @check: not_null(record_id, event_date)",
    ]
    preamble = list(_TEMP_FUNCTIONS)
    body = ["WITH"]
    stages = 0
    final_source = ""
    used = len(header) + sum(text.count("\n") + 1 for text in preamble) + 1
    stage_lines = 0
    final_lines = 13
    while stages == 0 or (
        used + len(body) + final_lines < target
        and used + len(body) + stage_lines + final_lines <= LARGE_MAX_LINES
    ):
        before = len(body)
        events = f"events_{stages}"
        source = f"raw.events_{rng.choice(('web', 'app', 'shop'))}"
        body += _large_event_cte(events, source, window, rng)
        body += _large_item_cte(f"items_{stages}", events, rng)
        body += _large_rollup_cte(f"rollup_{stages}", f"items_{stages}", rng)
        upstream = rng.choice(models).name if models else f"rollup_{stages}"
        final_source = f"joined_{stages}"
        body += _large_join_cte(final_source, f"rollup_{stages}", upstream, window)
        stage_lines = max(stage_lines, len(body) - before)
        stages += 1
    body[-1] = body[-1].rstrip(",")
    columns = [
        "customer_id",
        "event_date",
        "record_id",
        "event_ts",
        "amount",
        "quantity",
        "trend",
        "day_rank",
        "amount_range.median AS median_line",
        "ARRAY_LENGTH(top_lines) AS top_count",
    ]
    if rng.random() < 0.25:
        final = ["SELECT", "  * EXCEPT (top_lines),", "  ARRAY_LENGTH(top_lines) AS top_count"]
    else:
        final = ["SELECT", *(f"  {column}," for column in columns[:-1]), f"  {columns[-1]}"]
    final += [f"FROM {final_source}", "WHERE day_rank <= 1000"]
    text = "\n".join([*header, *preamble, *body, *final]) + "\n"
    return ref, text


def generate_large_project(dest: Path, n_models: int, seed: int = 0) -> list[Path]:
    """Write ``n_models`` queries of 200-400 lines, as real production files are.

    Each starts with temp functions (one taking ``ANY TYPE``) and chains
    stages of four CTEs: GA-like events with ``UNNEST`` of struct arrays and
    ``ARRAY(SELECT AS STRUCT …)``, one row per item with window functions,
    a rollup into structs and ``ARRAY_AGG(STRUCT … ORDER BY … LIMIT n)``, and
    a join to an earlier model with ``QUALIFY``. About a quarter end in
    ``SELECT * EXCEPT (…)`` (a lint warning, as in real code). Deterministic
    for a given ``seed``.
    """
    rng = random.Random(seed)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "pyproject.toml").write_text(
        '[project]\nname = "large-queries"\nversion = "0.0.0"\n\n'
        '[tool.sqlassets]\nsql_dir = "sql"\n'
    )
    models: list[ModelRef] = []
    written: list[Path] = []
    for index in range(n_models):
        ref, text = _large_model(index, models, rng, rng.randint(LARGE_MIN_LINES, LARGE_MAX_LINES))
        path = dest / "sql" / ref.dataset / f"{ref.table}.sql"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
        models.append(ref)
    return written


def main() -> None:
    """Command line: ``python bench/generate.py DEST --models N [--seed S]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path, help="project folder to create")
    parser.add_argument("--models", type=int, default=1000, help="number of models")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument(
        "--large", action="store_true", help="queries of 200-400 lines (generate_large_project)"
    )
    args = parser.parse_args()
    generate = generate_large_project if args.large else generate_project
    files = generate(args.dest, args.models, args.seed)
    print(f"wrote {len(files)} models to {args.dest / 'sql'}")


if __name__ == "__main__":
    main()

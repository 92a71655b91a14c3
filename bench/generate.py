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


def main() -> None:
    """Command line: ``python bench/generate.py DEST --models N [--seed S]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path, help="project folder to create")
    parser.add_argument("--models", type=int, default=1000, help="number of models")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    args = parser.parse_args()
    files = generate_project(args.dest, args.models, args.seed)
    print(f"wrote {len(files)} models to {args.dest / 'sql'}")


if __name__ == "__main__":
    main()

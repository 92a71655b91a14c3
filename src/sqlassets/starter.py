"""The files ``sqlassets init`` writes: a starter project that lints and runs on DuckDB."""

from __future__ import annotations

from pathlib import Path

PYPROJECT = """\
[project]
name = "{name}"
version = "0.1.0"
requires-python = ">=3.12"
dependencies = ["sqlassets"]

[tool.sqlassets]
sql_dir = "sql"
target = "dev"

# Local: a DuckDB file; gs://bucket/path reads gcs/bucket/path.
[tool.sqlassets.targets.dev]
engine = "duckdb"
path = ".sqlassets/warehouse.duckdb"
gcs_root = "gcs"

# BigQuery: uncomment, set GCP_PROJECT, then `sqlassets run --target prod`.
# [tool.sqlassets.targets.prod]
# engine = "bigquery"
# project = "env:GCP_PROJECT"
# location = "EU"
# maximum_bytes_billed = "10GB"
"""

LOAD = """\
-- Orders as the shop exports them: one CSV file with a header row.
-- @materialized: load
-- @format: csv
-- @uris: gs://landing/orders/orders.csv
-- @owners: team:data
-- @tags: layer=raw
"""

STAGING = """\
-- Orders, typed and cleaned: one row per order.
-- @materialized: view
-- @owners: team:data
-- @tags: layer=staging
-- @check: not_null(order_id, order_date)
-- @check: unique(order_id)
SELECT
  CAST(order_id AS STRING) AS order_id,
  CAST(order_date AS DATE) AS order_date,
  LOWER(TRIM(customer)) AS customer,
  CAST(amount AS NUMERIC) AS amount
FROM raw.orders
"""

MART = """\
-- Revenue per day, for the dashboard.
-- @owners: team:data
-- @tags: layer=marts
-- @check: row_count(min=1)
SELECT order_date, COUNT(*) AS orders, SUM(amount) AS revenue
FROM staging.orders
GROUP BY order_date
"""

ORDERS_CSV = """\
order_id,order_date,customer,amount
1,2024-01-01,Ada,12.50
2,2024-01-01,Grace,30.00
3,2024-01-02, Alan ,7.25
4,2024-01-02,Ada,19.90
5,2024-01-03,Edsger,42.00
6,2024-01-03,Grace,5.10
"""

DEFINITIONS = '''\
"""This project as Dagster definitions: `dagster dev -f definitions.py`."""

from pathlib import Path

import sqlassets

defs = sqlassets.build_definitions(Path(__file__).parent)
'''

GITIGNORE = ".sqlassets/\n"


def starter_files(name: str) -> dict[str, str]:
    """Relative path → text of every file of a starter project called ``name``."""
    return {
        "pyproject.toml": PYPROJECT.format(name=name),
        "sql/raw/orders.sql": LOAD,
        "sql/staging/orders.sql": STAGING,
        "sql/marts/daily_revenue.sql": MART,
        "gcs/landing/orders/orders.csv": ORDERS_CSV,
        "definitions.py": DEFINITIONS,
        ".gitignore": GITIGNORE,
    }


def write_starter(root: Path) -> list[Path]:
    """Write the starter project into ``root`` (created if missing); the files written."""
    name = "".join(c if c.isalnum() else "-" for c in root.resolve().name).strip("-").lower()
    written = []
    for relative, text in starter_files(name or "warehouse").items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written

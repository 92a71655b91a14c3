"""Model files tests share (issue 10: tests/test_bigquery_fidelity*.py, the load tests)."""

BIGQUERY_PYPROJECT = """\
[tool.sqlassets]
target = "prod"

[tool.sqlassets.targets.prod]
engine = "bigquery"
project = "acme-prod"
"""
TEMP_MERGE = """\
-- @materialized: merge
-- @unique_key: id
CREATE TEMP FUNCTION plus1(x INT64) AS (x + 1);
SELECT id, plus1(v) AS w FROM raw.src
"""
TEMP_OVERWRITE = """\
-- @materialized: insert_overwrite
-- @partition_by: d
-- @partitions: daily
-- @start: 2024-01-01
CREATE TEMP FUNCTION plus1(x INT64) AS (x + 1);
SELECT d, id, plus1(v) AS w FROM raw.src WHERE d >= @start_date AND d < @end_date
"""
TEMP_STAR = """\
-- @materialized: merge
-- @unique_key: id
CREATE TEMP FUNCTION plus1(x INT64) AS (x + 1);
SELECT * FROM (SELECT id, plus1(v) AS w FROM raw.src)
"""
KEYED_BY_DAY = """\
-- @materialized: merge
-- @unique_key: d, id
-- @partition_by: d
-- @partitions: daily
-- @start: 2024-01-01
-- @check: not_null(id)
-- @check: unique(d, id)
-- @check: warn row_count(min=1)
SELECT d, id, v FROM raw.src WHERE d >= @start_date AND d < @end_date
"""
FILTERED = """\
-- @materialized: merge
-- @unique_key: id
-- @partition_by: d
-- @merge_filter: d >= DATE_SUB(@start_date, INTERVAL 7 DAY)
-- @partitions: daily
-- @start: 2024-01-01
-- @check: not_null(id)
SELECT id, d, v FROM raw.src WHERE updated >= @start_ts AND updated < @end_ts
"""
# A daily, clustered CSV load (tests/test_bigquery_loads.py, test_bigquery_load_layout.py).
LOAD_ORDERS = """\
-- @materialized: load
-- @format: csv
-- @uris: gs://land/orders/{start_date:%Y%m%d}/*.csv
-- @partition_by: order_date
-- @partitions: daily
-- @start: 2024-01-01
-- @cluster_by: customer_id
"""
# A daily append load (tests/test_load_modes*.py).
APPEND_EVENTS = """-- @materialized: load
-- @load_mode: append
-- @uris: gs://land/events/{start_date}/*.parquet
-- @partition_by: DATE(ts)
-- @partitions: daily
-- @start: 2024-01-01
"""

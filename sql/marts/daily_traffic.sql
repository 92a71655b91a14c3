-- Sessions, page views and conversion per day and device type.
-- A session belongs to the day of its first event; duplicate events are dropped.
-- @materialized: insert_overwrite
-- @partition_by: event_date
-- @partitions: daily
-- @start: 2024-01-01
-- @cluster_by: device_type
-- @backfill: max_partitions=30
-- @schedule: 30 3 * * *
-- @owners: team:growth
-- @tags: layer=mart, domain=marketing
-- @labels: team=growth
-- @check: not_null(event_date, device_type)
-- @check: unique(event_date, device_type)
-- @check: expression(converted_sessions <= sessions)
-- @check: warn accepted_values(device_type, ['desktop', 'mobile', 'tablet', 'unknown'])
WITH events AS (
  SELECT
    e.event_id,
    e.session_id,
    LOWER(TRIM(e.event_type)) AS event_type,
    COALESCE(LOWER(TRIM(e.device_type)), 'unknown') AS device_type,
    e.event_ts
  FROM raw.web_events AS e
  WHERE e.event_ts >= @start_ts AND e.event_ts < @end_ts AND e.session_id IS NOT NULL
  QUALIFY ROW_NUMBER() OVER (PARTITION BY e.event_id ORDER BY e.event_ts) = 1
),
sessions AS (
  SELECT
    session_id,
    DATE(MIN(event_ts)) AS event_date,
    ANY_VALUE(device_type) AS device_type,
    COUNTIF(event_type = 'page_view') AS page_views,
    LOGICAL_OR(event_type = 'purchase') AS converted,
    TIMESTAMP_DIFF(MAX(event_ts), MIN(event_ts), SECOND) AS duration_s
  FROM events
  GROUP BY session_id
)
SELECT
  event_date,
  device_type,
  COUNT(*) AS sessions,
  COUNTIF(converted) AS converted_sessions,
  SUM(page_views) AS page_views,
  SAFE_DIVIDE(COUNTIF(converted), COUNT(*)) AS conversion_rate,
  AVG(duration_s) AS avg_session_seconds
FROM sessions
GROUP BY event_date, device_type

-- Customer dimension with lifetime order statistics, upserted on customer_id.
-- The lifecycle stage is computed as of the latest order in the warehouse,
-- so re-running it on the same data changes nothing.
-- @materialized: merge
-- @unique_key: customer_id
-- @cluster_by: region, customer_id
-- @on_schema_change: append_new_columns
-- @schedule: 0 4 * * *
-- @owners: team:analytics
-- @tags: layer=mart, domain=customers, pii
-- @check: not_null(customer_id, region, lifecycle_stage)
-- @check: unique(customer_id)
-- @check: accepted_values(lifecycle_stage, ['prospect', 'new', 'active', 'lapsed'])
-- @check: expression(lifetime_orders >= 0)
WITH order_stats AS (
  SELECT
    o.customer_id,
    COUNT(*) AS lifetime_orders,
    SUM(o.net_amount) AS lifetime_revenue,
    MIN(o.order_date) AS first_order_date,
    MAX(o.order_date) AS last_order_date
  FROM staging.stg_orders AS o
  WHERE o.status NOT IN ('cancelled', 'test')
  GROUP BY o.customer_id
),
as_of AS (
  SELECT MAX(order_date) AS as_of_date
  FROM staging.stg_orders
)
SELECT
  c.customer_id,
  c.email,
  c.full_name,
  c.country_code,
  c.region,
  c.signup_date,
  c.marketing_opt_in,
  COALESCE(s.lifetime_orders, 0) AS lifetime_orders,
  COALESCE(s.lifetime_revenue, 0) AS lifetime_revenue,
  SAFE_DIVIDE(s.lifetime_revenue, s.lifetime_orders) AS average_order_value,
  s.first_order_date,
  s.last_order_date,
  CASE
    WHEN s.lifetime_orders IS NULL THEN 'prospect'
    WHEN DATE_DIFF(a.as_of_date, s.first_order_date, DAY) <= 30 THEN 'new'
    WHEN DATE_DIFF(a.as_of_date, s.last_order_date, DAY) <= 180 THEN 'active'
    ELSE 'lapsed'
  END AS lifecycle_stage
FROM staging.stg_customers AS c
LEFT JOIN order_stats AS s ON s.customer_id = c.customer_id
CROSS JOIN as_of AS a
